package metrics

import (
	"database/sql"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// QueryMetrics are the label handles of one named query.
type QueryMetrics struct {
	Name     string
	duration prometheus.Observer
	errors   prometheus.Counter
}

var queries sync.Map // name -> *QueryMetrics

// Query returns the handles of a query name, created once.
func Query(name string) *QueryMetrics {
	if q, ok := queries.Load(name); ok {
		return q.(*QueryMetrics)
	}
	q, _ := queries.LoadOrStore(name, &QueryMetrics{
		Name:     name,
		duration: DBQueryDuration.WithLabelValues(name),
		errors:   DBQueryErrors.WithLabelValues(name),
	})
	return q.(*QueryMetrics)
}

// Observe records one run of the query.
func (q *QueryMetrics) Observe(d time.Duration, err error) {
	q.duration.Observe(d.Seconds())
	if err != nil && err != sql.ErrNoRows {
		q.errors.Inc()
	}
}

// QueryName is the name of an sqlc query ("-- name: GetAccount :one\n..."
// gives "GetAccount"), or "other" for SQL without that leading comment.
func QueryName(query string) string {
	const prefix = "-- name: "
	if !strings.HasPrefix(query, prefix) {
		return "other"
	}
	rest := query[len(prefix):]
	end := strings.IndexAny(rest, " \n")
	if end <= 0 || end > 80 {
		return "other"
	}
	return rest[:end]
}

// PoolStats returns the statistics of each connection pool by name
// ("primary"; on SQLite "write" and "read").
type PoolStats func() map[string]sql.DBStats

var (
	poolConns = prometheus.NewDesc(ns+"_db_pool_connections",
		"Connections of a database pool, by pool and state (in_use, idle).", []string{"pool", "state"}, nil)
	poolMax = prometheus.NewDesc(ns+"_db_pool_max_open_connections",
		"Maximum open connections of a database pool.", []string{"pool"}, nil)
	poolWaits = prometheus.NewDesc(ns+"_db_pool_waits_total",
		"Times a query waited for a free connection, by pool.", []string{"pool"}, nil)
	poolWaitSeconds = prometheus.NewDesc(ns+"_db_pool_wait_seconds_total",
		"Time spent waiting for a free connection, by pool.", []string{"pool"}, nil)
)

type poolCollector struct{ stats PoolStats }

// NewPoolCollector reads sql.DBStats at scrape time.
func NewPoolCollector(stats PoolStats) prometheus.Collector { return poolCollector{stats} }

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolConns
	ch <- poolMax
	ch <- poolWaits
	ch <- poolWaitSeconds
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.stats() {
		ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(s.InUse), name, "in_use")
		ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(s.Idle), name, "idle")
		ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxOpenConnections), name)
		ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(s.WaitCount), name)
		ch <- prometheus.MustNewConstMetric(poolWaitSeconds, prometheus.CounterValue, s.WaitDuration.Seconds(), name)
	}
}
