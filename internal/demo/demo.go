// Package demo is `pgkeep demo`: a throwaway three-member cluster on
// loopback that shows the whole job. etcd, three `pgkeep ha` agents (the
// first runs initdb, the others are created from the newest backup), a
// `pgkeep server` streaming WAL into a posix repository, a full backup, a
// kill -9 of the primary member with the failover timed, the old primary
// rejoining, and a point-in-time restore into a new cluster bootstrapped
// from the backup, its rows checked. Everything lives in one temporary
// directory, removed at the end.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Options configure a demo run.
type Options struct {
	// Bin is the pgkeep binary the demo runs (its own executable).
	Bin string
	// PGBin is the directory of PostgreSQL 15's programs.
	PGBin string
	// Etcd is the etcd server binary (Debian's etcd-server package).
	Etcd string
	// Keep leaves the work directory and its logs in place.
	Keep bool
	// Out receives the demo's narration.
	Out io.Writer
}

// Summary is what the demo measured.
type Summary struct {
	OldPrimary, NewPrimary string
	Failover               time.Duration // kill -9 of the primary member to the first write on the new one
	Rejoin                 time.Duration // restart of the old member's agent to it streaming as a replica
	RowsAtTarget           int           // rows of the point-in-time restore
	Total                  time.Duration
}

// Run runs the demo; the error says which step failed and where the logs are.
func Run(ctx context.Context, o Options) (Summary, error) {
	if err := o.check(); err != nil {
		return Summary{}, err
	}
	start := time.Now()
	d, err := newRun(o)
	if err != nil {
		return Summary{}, err
	}
	defer d.cleanup()
	s, err := d.run(ctx)
	if err != nil {
		return s, fmt.Errorf("%w (logs in %s)", err, d.work)
	}
	s.Total = time.Since(start)
	return s, nil
}

func (o Options) check() error {
	for _, p := range []struct{ path, hint string }{
		{o.Bin, "the pgkeep binary"},
		{filepath.Join(o.PGBin, "initdb"), "apt-get install postgresql-15"},
		{o.Etcd, "apt-get install etcd-server"},
	} {
		if _, err := exec.LookPath(p.path); err != nil {
			return fmt.Errorf("demo needs %s: %w (%s)", p.path, err, p.hint)
		}
	}
	return nil
}

// run is one demo in its work directory.
type run struct {
	o    Options
	as   runAs
	work string
	bin  string // the pgkeep binary, copied where the postgres user can run it

	etcd       *daemon
	etcdURL    string
	server     *daemon
	members    []*member
	pitr       *member
	clientConf string
	failed     bool
}

func newRun(o Options) (*run, error) {
	as, err := currentRunAs()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "pgkeep-demo-")
	if err != nil {
		return nil, fmt.Errorf("demo: work directory: %w", err)
	}
	d := &run{o: o, as: as, work: work, bin: filepath.Join(work, "pgkeep")}
	if err := os.Chmod(work, 0o755); err != nil {
		return nil, err
	}
	if err := as.chown(work); err != nil {
		return nil, err
	}
	if err := copyFile(o.Bin, d.bin, 0o755); err != nil {
		return nil, fmt.Errorf("demo: copy the binary: %w", err)
	}
	return d, nil
}

func (d *run) run(ctx context.Context) (Summary, error) {
	var s Summary
	if err := d.startEtcd(ctx); err != nil {
		return s, err
	}
	ports, err := freePorts(11)
	if err != nil {
		return s, err
	}
	for i := range 3 {
		d.members = append(d.members, d.newMember(fmt.Sprintf("pg%d", i+1), "demo", ports[2*i], ports[2*i+1], ""))
	}
	d.clientConf = filepath.Join(d.work, "client.yaml")
	if err := d.writeConfig(d.clientConf, d.baseYAML("demo")); err != nil {
		return s, err
	}

	first := d.members[0]
	d.step("%s: pgkeep ha on an empty data directory: it takes the initialize key, runs initdb and leads", first.name)
	if err := d.startAgent(ctx, first); err != nil {
		return s, err
	}
	if err := d.waitRole(ctx, first, "primary", 2*time.Minute); err != nil {
		return s, err
	}
	d.say("%s is primary on 127.0.0.1:%d", first.name, first.port)

	d.step("pgkeep create, then pgkeep server: it finds the leader in etcd and streams its WAL into the repository")
	if _, err := d.pgkeep(ctx, d.clientConf, "create", "--pg-host", "127.0.0.1", "--pg-port", fmt.Sprint(first.port)); err != nil {
		return s, err
	}
	if err := d.startServer(ctx, ports[6]); err != nil {
		return s, err
	}

	d.step("pgbench -i -s 10 (about 160 MB), then pgkeep backup --type full from the leader")
	if _, err := d.as.output(ctx, d.work, filepath.Join(d.o.PGBin, "pgbench"), "-i", "-s", "10", "-q",
		"-h", "127.0.0.1", "-p", fmt.Sprint(first.port), "-U", "postgres", "postgres"); err != nil {
		return s, err
	}
	out, err := d.pgkeep(ctx, d.clientConf, "backup", "--type", "full")
	if err != nil {
		return s, err
	}
	d.say("%s", strings.TrimSpace(out))

	d.step("pg2, pg3: pgkeep ha on empty data directories: replicas restored from the newest backup, then streaming")
	for _, m := range d.members[1:] {
		if err := d.startAgent(ctx, m); err != nil {
			return s, err
		}
	}
	for _, m := range d.members[1:] {
		if err := d.waitRole(ctx, m, "replica", 3*time.Minute); err != nil {
			return s, err
		}
	}
	d.ctlList(ctx)

	d.step("100 rows, a point in time T, 100 more rows")
	target, err := d.marks(ctx, first)
	if err != nil {
		return s, err
	}
	d.say("T = %s", target)

	d.step("kill -9 the primary member (its agent and its postgres) while a writer tries every 10 ms")
	s.OldPrimary = first.name
	s.NewPrimary, s.Failover, err = d.killPrimary(ctx, first)
	if err != nil {
		return s, err
	}
	d.say("%s accepted the first write %s after the kill", s.NewPrimary, s.Failover.Round(time.Millisecond))
	d.ctlList(ctx)

	d.step("restart %s's agent: it rejoins as a replica, with pg_rewind where its WAL went past the new timeline's start", first.name)
	rejoinStart := time.Now()
	if err := d.startAgent(ctx, first); err != nil {
		return s, err
	}
	if err := d.waitRole(ctx, first, "replica", 2*time.Minute); err != nil {
		return s, err
	}
	s.Rejoin = time.Since(rejoinStart)
	d.say("%s streams from %s again after %s", first.name, s.NewPrimary, s.Rejoin.Round(time.Millisecond))

	d.step("a new cluster demo-pitr bootstrapped from the backup, recovered to T through the streamed WAL")
	d.pitr = d.newMember("pitr1", "demo-pitr", ports[7], ports[8], target)
	if err := d.startAgent(ctx, d.pitr); err != nil {
		return s, err
	}
	if err := d.waitRole(ctx, d.pitr, "primary", 3*time.Minute); err != nil {
		return s, err
	}
	if s.RowsAtTarget, err = d.checkMarks(ctx, d.pitr); err != nil {
		return s, err
	}
	d.say("demo-pitr has %d rows, ids 1-100: exactly those committed before T", s.RowsAtTarget)

	d.step("pgkeep info")
	if out, err := d.pgkeep(ctx, d.clientConf, "info"); err == nil {
		d.say("%s", strings.TrimRight(out, "\n"))
	} else {
		return s, err
	}
	return s, nil
}

func (d *run) step(format string, args ...any) {
	fmt.Fprintf(d.o.Out, "\n\033[1m== %s\033[0m\n", fmt.Sprintf(format, args...))
}

func (d *run) say(format string, args ...any) {
	fmt.Fprintf(d.o.Out, format+"\n", args...)
}

// pgkeep runs a pgkeep command with a config file.
func (d *run) pgkeep(ctx context.Context, conf string, args ...string) (string, error) {
	return d.as.output(ctx, d.work, d.bin, append([]string{"--config", conf}, args...)...)
}

// ctlList prints `pgkeep ctl list`.
func (d *run) ctlList(ctx context.Context) {
	out, err := d.pgkeep(ctx, d.clientConf, "ctl", "list")
	if err != nil {
		d.say("ctl list: %v", err)
		return
	}
	d.say("%s", strings.TrimRight(out, "\n"))
}

// cleanup stops everything and removes the work directory.
func (d *run) cleanup() {
	for _, m := range append(d.members, d.pitr) {
		if m != nil {
			m.agent.stop(time.Minute)
		}
	}
	d.server.stop(30 * time.Second)
	// An agent killed by the demo and not restarted leaves its postgres.
	for _, m := range append(d.members, d.pitr) {
		if m != nil {
			_, _ = d.as.output(context.Background(), d.work, filepath.Join(d.o.PGBin, "pg_ctl"), "-D", m.data, "-m", "immediate", "stop")
		}
	}
	d.etcd.stop(10 * time.Second)
	if d.o.Keep {
		fmt.Fprintf(d.o.Out, "kept %s\n", d.work)
		return
	}
	if err := os.RemoveAll(d.work); err != nil {
		fmt.Fprintf(d.o.Out, "remove %s: %v\n", d.work, err)
	}
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return errors.Join(out.Close(), os.Chmod(dst, mode))
}
