// Package fanout hands pub/sub messages to local subscribers. Each subscriber
// gets its own goroutine and queue so a slow one delays only itself and never
// the publisher (or, for Redis, the one shared connection's reader).
package fanout

import "sync"

// maxQueued bounds a stuck subscriber's backlog; pub/sub is best effort, so
// beyond it new messages for that subscriber are dropped rather than hoarded.
const maxQueued = 10000

// Hub is a set of subscribers keyed by topic. The zero value is not usable;
// call New.
type Hub struct {
	mu     sync.Mutex
	topics map[string]map[*Sub]struct{}
	closed bool
	wg     sync.WaitGroup
}

type message struct {
	topic   string
	payload []byte
}

// Sub is one subscriber.
type Sub struct {
	hub   *Hub
	topic string
	fn    func(topic string, payload []byte)

	mu      sync.Mutex
	queue   []message
	stopped bool
	wake    chan struct{}
}

// New returns an empty hub.
func New() *Hub {
	return &Hub{topics: map[string]map[*Sub]struct{}{}}
}

// Add registers fn for topic. first reports whether it is the topic's only
// subscriber now. It returns nil after Close.
func (h *Hub) Add(topic string, fn func(topic string, payload []byte)) (s *Sub, first bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	s = &Sub{hub: h, topic: topic, fn: fn, wake: make(chan struct{}, 1)}
	subs := h.topics[topic]
	if subs == nil {
		subs = map[*Sub]struct{}{}
		h.topics[topic] = subs
	}
	subs[s] = struct{}{}
	h.wg.Add(1)
	go s.run()
	return s, len(subs) == 1
}

// Remove stops delivery to s; messages still queued for it are discarded. It
// does not wait for a running fn call, so fn may call it. last reports whether
// the topic has no subscribers left; removed is false if s was already gone.
func (h *Hub) Remove(s *Sub) (last, removed bool) {
	h.mu.Lock()
	subs := h.topics[s.topic]
	if _, ok := subs[s]; ok {
		delete(subs, s)
		removed = true
		if len(subs) == 0 {
			delete(h.topics, s.topic)
			last = true
		}
	}
	h.mu.Unlock()
	if removed {
		s.stop()
	}
	return last, removed
}

// Deliver queues a copy of payload for every subscriber of topic.
func (h *Hub) Deliver(topic string, payload []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.topics[topic] {
		p := make([]byte, len(payload))
		copy(p, payload)
		s.push(message{topic, p})
	}
}

// Close removes every subscriber and waits for running callbacks to return.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	var all []*Sub
	for _, subs := range h.topics {
		for s := range subs {
			all = append(all, s)
		}
	}
	h.topics = map[string]map[*Sub]struct{}{}
	h.mu.Unlock()
	for _, s := range all {
		s.stop()
	}
	h.wg.Wait()
}

func (s *Sub) push(m message) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	if len(s.queue) >= maxQueued {
		s.mu.Unlock()
		return
	}
	s.queue = append(s.queue, m)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Sub) stop() {
	s.mu.Lock()
	s.stopped = true
	s.queue = nil
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Sub) run() {
	defer s.hub.wg.Done()
	for range s.wake {
		for {
			s.mu.Lock()
			if s.stopped {
				s.mu.Unlock()
				return
			}
			if len(s.queue) == 0 {
				s.mu.Unlock()
				break
			}
			m := s.queue[0]
			s.queue[0] = message{}
			s.queue = s.queue[1:]
			s.mu.Unlock()
			s.fn(m.topic, m.payload)
		}
	}
}
