package ha

import (
	"context"
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/ha/decide"
	"github.com/pgkeep/pgkeep/pg"
)

// turn is one run of the HA loop. It returns how long to wait for the next.
func (a *Agent) turn(ctx context.Context) time.Duration {
	observed := time.Now()
	data, derr := a.pg.inspect()
	var st pgState
	if derr == nil && !data.empty {
		st = a.pg.State(ctx)
	}
	prev := a.lastView()
	c, err := a.dcs.Cluster(ctx)
	seen := time.Now()
	if err != nil {
		a.warn(ctx, "cannot read the cluster from etcd; deciding on the last snapshot", err)
		c, seen = prev.cluster, time.Time{}
	}
	a.refreshIdentity(ctx, st.Running, seen)
	s := c.Settings(a.o.settings())
	s.TTL = a.o.TTL // the lease was granted with it (a changed ttl is not applied yet)
	m := a.memberData(st, s)
	if data.empty {
		m.Role = dcs.RoleUninitialized
	}
	if err := a.dcs.TouchMember(ctx, m); err != nil {
		a.warn(ctx, "cannot write the member key", err)
	}
	if derr != nil {
		a.log.Error("cannot use the data directory", "err", derr)
		return s.LoopWait
	}
	if ctx.Err() != nil {
		return s.LoopWait // the agent stops: act on nothing it could not read
	}
	var peers []decide.MemberState
	if needPeers(c, a.o.Name, st) {
		peers = a.askPeers(ctx, c)
	}
	d := decide.Decide(decide.Input{
		Cluster: c, Settings: s, SafetyMargin: a.o.SafetyMargin,
		Self: decide.Self{MemberState: a.selfState(st), LastRenewal: a.lastRenewed(),
			Empty: data.empty, SystemID: data.sysid},
		Peers: peers, Now: time.Now(),
	})
	a.report(d, prev.decision)
	a.setView(view{cluster: c, settings: s, pg: st, decision: d, at: observed})
	a.act(ctx, d, c, st)
	return s.LoopWait
}

// needPeers reports whether the decision may hold an election, which needs
// the other members' live state.
func needPeers(c dcs.Cluster, self string, st pgState) bool {
	return c.Leader == nil || c.Failover != nil || c.LeaderName() == self && !st.Running
}

// selfState is this member as the decision sees it.
func (a *Agent) selfState(st pgState) decide.MemberState {
	return decide.MemberState{Name: a.o.Name, Reachable: true, Tags: a.o.Tags, PG: st.PG}
}

// memberData is this member's key.
func (a *Agent) memberData(st pgState, s dcs.Settings) dcs.MemberData {
	m := dcs.MemberData{ConnURL: a.o.ConnURL, APIURL: a.o.APIURL, State: dcs.StateStopped, Role: dcs.RoleReplica,
		Tags: a.o.Tags, Timeline: st.Timeline, Pause: s.Pause}
	if !st.Running {
		return m
	}
	m.State = dcs.StateRunning
	m.XLogLocation = uint64(st.LSN)
	if !st.InRecovery {
		m.Role = dcs.RolePrimary
		return m
	}
	m.XLogLocation = uint64(st.Replay)
	m.ReplayLSN, m.ReceiveLSN = uint64(st.Replay), uint64(st.Receive)
	if st.Streaming {
		m.ReplicationState = dcs.ReplicationStreaming
	}
	return m
}

// report logs a decision: at info when it changes or acts, else at debug.
func (a *Agent) report(d, prev decide.Decision) {
	steady := d.Action == prev.Action && d.Reason == prev.Reason && (d.Action == decide.Renew || d.Action == decide.Follow || d.Action == decide.Wait)
	level := a.log.Info
	if steady {
		level = a.log.Debug
	}
	args := []any{"action", d.Action.String(), "reason", d.Reason}
	if d.Election != nil {
		for _, c := range d.Election.Candidates {
			args = append(args, "candidate."+c.Name, candidateLine(c))
		}
	}
	level("decided", args...)
}

// candidateLine is one candidate for the log.
func candidateLine(c decide.Candidate) string {
	s := pg.LSN(c.LSN).String()
	if c.Excluded != "" {
		return s + ": " + c.Excluded
	}
	return s + ": winner"
}

func (a *Agent) lastView() view {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.view
}

// setView records a turn's picture. A role the agent set itself after the
// turn read PostgreSQL's state (the watchdog fenced meanwhile) is kept.
func (a *Agent) setView(v view) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.roleSetAt.After(v.at) {
		v.pg.Running, v.pg.InRecovery = a.view.pg.Running, a.view.pg.InRecovery
	}
	a.view = v
}

// setPrimary records a change of role made by the agent itself, before the
// next turn observes it (the watchdog fences on it).
func (a *Agent) setPrimary(primary bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.view.pg.Running = a.view.pg.Running || primary
	a.view.pg.InRecovery = !primary
	a.roleSetAt = time.Now()
}

// warn logs a failed step at warn level, or at debug once ctx has ended:
// the agent is stopping, and calls cut short by that are expected.
func (a *Agent) warn(ctx context.Context, msg string, err error) {
	if ctx.Err() != nil {
		a.log.Debug(msg, "err", err)
		return
	}
	a.log.Warn(msg, "err", err)
}
