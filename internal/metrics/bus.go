package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/telemetry"
)

const busTracer = "github.com/smarterdev/smarterdev/internal/bus"

// InstrumentBus wraps b so that enqueued jobs carry the caller's trace
// context (unless their headers already do), job outcomes and handler
// durations are counted, and every delivery runs in a consumer span whose
// parent is the span that enqueued the job.
func InstrumentBus(b bus.Bus) bus.Bus { return &instrumentedBus{Bus: b} }

type instrumentedBus struct{ bus.Bus }

// Unwrap returns the bus this one decorates.
func (b *instrumentedBus) Unwrap() bus.Bus { return b.Bus }

func (b *instrumentedBus) Enqueue(ctx context.Context, queue string, payload []byte, headers map[string]string) (string, error) {
	id, err := b.Bus.Enqueue(ctx, queue, payload, telemetry.Inject(ctx, headers))
	if err == nil {
		JobsEnqueued.WithLabelValues(queue).Inc()
	}
	return id, err
}

func (b *instrumentedBus) Consume(ctx context.Context, queue string, opts bus.ConsumeOptions, h bus.Handler) error {
	opts = opts.WithDefaults()
	var (
		duration = JobDuration.WithLabelValues(queue)
		ok       = JobsProcessed.WithLabelValues(queue, "ok")
		retry    = JobsProcessed.WithLabelValues(queue, "retry")
		dead     = JobsProcessed.WithLabelValues(queue, "dead")
		tracer   = otel.Tracer(busTracer)
		name     = queue + " process"
	)
	wrapped := func(ctx context.Context, job bus.Job) error {
		ctx = telemetry.Extract(ctx, job.Headers)
		ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(
				attribute.String("messaging.system", "smarterdev.bus"),
				attribute.String("messaging.destination.name", queue),
				attribute.String("messaging.message.id", job.ID),
				attribute.Int("smarterdev.job.attempt", job.Attempt),
			))
		start := time.Now()
		err := h(ctx, job)
		duration.Observe(time.Since(start).Seconds())
		switch {
		case err == nil:
			ok.Inc()
		case bus.IsPermanent(err) || job.Attempt >= opts.MaxAttempts:
			dead.Inc()
		default:
			retry.Inc()
		}
		telemetry.RecordError(span, err)
		span.End()
		return err
	}
	return b.Bus.Consume(ctx, queue, opts, wrapped)
}

var (
	queueJobs = prometheus.NewDesc(ns+"_bus_queue_jobs",
		"Jobs in a queue now, by queue and state (ready, delayed, inflight, dead).", []string{"queue", "state"}, nil)
	queueLag = prometheus.NewDesc(ns+"_bus_queue_lag_seconds",
		"Age of the oldest ready job of a queue (0 when empty).", []string{"queue"}, nil)
)

type busCollector struct {
	bus    bus.Bus
	queues []string
}

// NewBusCollector reads the queues' depth, lag and dead letters at scrape time.
func NewBusCollector(b bus.Bus, queues ...string) prometheus.Collector {
	return &busCollector{bus: b, queues: queues}
}

func (c *busCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueJobs
	ch <- queueLag
}

func (c *busCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, q := range c.queues {
		st, err := c.bus.Stats(ctx, q)
		if err != nil {
			CollectErrors.WithLabelValues("bus").Inc()
			continue
		}
		ch <- prometheus.MustNewConstMetric(queueJobs, prometheus.GaugeValue, float64(st.Ready), q, "ready")
		ch <- prometheus.MustNewConstMetric(queueJobs, prometheus.GaugeValue, float64(st.Delayed), q, "delayed")
		ch <- prometheus.MustNewConstMetric(queueJobs, prometheus.GaugeValue, float64(st.InFlight), q, "inflight")
		ch <- prometheus.MustNewConstMetric(queueJobs, prometheus.GaugeValue, float64(st.Dead), q, "dead")
		ch <- prometheus.MustNewConstMetric(queueLag, prometheus.GaugeValue, st.OldestWait.Seconds(), q)
	}
}
