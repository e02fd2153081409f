package reposerver

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg *prometheus.Registry

	active         prometheus.Gauge
	lagBytes       prometheus.Gauge
	lagSeconds     prometheus.Gauge
	archivedLSN    prometheus.Gauge
	reconnects     prometheus.Counter
	errors         *prometheus.CounterVec
	runs           *prometheus.CounterVec
	lastBackup     *prometheus.GaugeVec
	backupAge      *prometheus.GaugeVec
	backupDuration *prometheus.GaugeVec
	backupBytes    *prometheus.GaugeVec
	backupStored   *prometheus.GaugeVec
	windowStart    prometheus.Gauge
	windowEnd      prometheus.Gauge
	verifyErrors   prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "pgkeep", Name: name, Help: help})
		m.reg.MustRegister(g)
		return g
	}
	gaugeVec := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "pgkeep", Name: name, Help: help}, labels)
		m.reg.MustRegister(g)
		return g
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pgkeep", Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	m.active = gauge("server_active", "1 while this server is the cluster's active server (streaming and scheduling)")
	m.lagBytes = gauge("archive_lag_bytes", "WAL the server has written that the repository does not hold yet")
	m.lagSeconds = gauge("archive_lag_seconds", "age of the oldest WAL the server has written that the repository does not hold yet")
	m.archivedLSN = gauge("archive_archived_lsn", "WAL position durable in the repository, as a byte offset")
	m.reconnects = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "pgkeep", Name: "stream_reconnects_total", Help: "WAL stream reconnections"})
	m.reg.MustRegister(m.reconnects)
	m.errors = counterVec("errors_total", "failures by component: stream, election, schedule, full, diff, incr, expire, verify", "component")
	m.runs = counterVec("job_runs_total", "scheduled job runs by job and result", "job", "result")
	m.lastBackup = gaugeVec("backup_last_success_timestamp_seconds", "stop time of the newest backup of each type", "type")
	m.backupAge = gaugeVec("backup_last_age_seconds", "seconds since the newest backup of each type stopped", "type")
	m.backupDuration = gaugeVec("backup_duration_seconds", "duration of the last backup this server took, by type", "type")
	m.backupBytes = gaugeVec("backup_bytes", "size of the data directory in the last backup this server took, by type", "type")
	m.backupStored = gaugeVec("backup_stored_bytes", "bytes the last backup this server took added to the repository, by type", "type")
	m.windowStart = gauge("recovery_window_start_timestamp_seconds", "earliest time the newest timeline can be restored to")
	m.windowEnd = gauge("recovery_window_end_timestamp_seconds", "latest time the newest timeline can be restored to")
	m.verifyErrors = gauge("verify_errors", "problems the last verify run by this server found")
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
