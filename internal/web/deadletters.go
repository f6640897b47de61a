package web

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/smarterdev/smarterdev/internal/bus"
)

// deadShown is how many dead jobs the page lists; Retry moves them all.
const deadShown = 50

type deadData struct {
	Queue string
	Dead  int64 // in the queue, listed or not
	More  bool  // more than the ones listed
	Jobs  []deadJob
}

type deadJob struct {
	bus.Job
	Payload string // as text, cut for the table
}

// watchedQueue is the queue a path names, when the status page shows it:
// nothing else can be read or redriven from here.
func (h *Handler) watchedQueue(w http.ResponseWriter, r *http.Request) (string, bool) {
	q := r.PathValue("queue")
	if h.d.Bus == nil || !slices.Contains(h.d.Queues, q) {
		h.errorPage(w, r, http.StatusNotFound, "No such queue.")
		return "", false
	}
	return q, true
}

// deadLetters lists the jobs of a queue that failed every attempt (a role
// the bot may not give, a channel it cannot post in), with the last error,
// so an operator can fix the cause and then retry them.
func (h *Handler) deadLetters(w http.ResponseWriter, r *http.Request, v *viewer) {
	q, ok := h.watchedQueue(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	st, err := h.d.Bus.Stats(ctx, q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	jobs, err := h.d.Bus.DeadLetters(ctx, q, deadShown)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := deadData{Queue: q, Dead: st.Dead}
	for _, j := range jobs {
		p := []rune(string(j.Payload))
		if len(p) > 300 {
			p = append(p[:299], '…')
		}
		d.Jobs = append(d.Jobs, deadJob{Job: j, Payload: string(p)})
	}
	d.More = d.Dead > int64(len(d.Jobs))
	h.render(w, r, http.StatusOK, "deadletters", &page{Title: "Dead jobs in " + q, Viewer: v, Data: d})
}

// redrive moves every dead job of a queue back to it, for another round
// of attempts.
func (h *Handler) redrive(w http.ResponseWriter, r *http.Request, v *viewer) {
	q, ok := h.watchedQueue(w, r)
	if !ok {
		return
	}
	n, err := h.d.Bus.Redrive(r.Context(), q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "dead jobs redriven", "queue", q, "jobs", n, "user_id", v.UserID)
	msg := "No dead job was left in " + q + "."
	if n > 0 {
		msg = "Moved " + strconv.Itoa(n) + " dead job"
		if n > 1 {
			msg += "s"
		}
		msg += " back to " + q + "; they are tried again now."
	}
	h.flash(w, r, msg)
	http.Redirect(w, r, "/status", http.StatusSeeOther)
}
