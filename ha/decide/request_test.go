package decide

import (
	"strings"
	"testing"

	"github.com/pgkeep/pgkeep/ha/dcs"
)

func TestCheckRequest(t *testing.T) {
	c := cluster("a", "a", "b", "c", "d")
	c.Members[3].Data.Tags = dcs.Tags{"nofailover": true}
	leaderA := peer("a", primary(5<<20, 1), nil)
	b, cc, d := peer("b", replica(5<<20, 1), nil), peer("c", replica(5<<20, 1), nil), peer("d", replica(5<<20, 1), dcs.Tags{"nofailover": true})
	live := []MemberState{leaderA, b, cc, d}
	notStreaming := peer("b", replica(5<<20, 1), nil)
	notStreaming.PG.Streaming = false
	for _, r := range []struct {
		name    string
		cluster dcs.Cluster
		req     dcs.Failover
		states  []MemberState
		winner  string
		refused string // substring; "" when accepted
	}{
		{name: "switchover to a healthy streaming replica", cluster: c, req: dcs.Failover{Leader: "a", Member: "b"}, states: live, winner: "b"},
		{name: "switchover to any member: the best other", cluster: c, req: dcs.Failover{Leader: "a"},
			states: []MemberState{leaderA, peer("b", replica(5<<20-1, 1), nil), cc, d}, winner: "c"},
		{name: "failover to a candidate while the leader lives", cluster: c, req: dcs.Failover{Member: "c"}, states: live, winner: "c"},
		{name: "failover to a candidate without a leader", cluster: cluster("", "a", "b", "c"), req: dcs.Failover{Member: "b"},
			states: []MemberState{{Name: "a"}, peer("b", replica(5<<20, 1), nil), cc}, winner: "b"},
		{name: "failover without a leader does not need streaming", cluster: cluster("", "a", "b"), req: dcs.Failover{Member: "b"},
			states: []MemberState{{Name: "a"}, notStreaming}, winner: "b"},
		{name: "the leader's PostgreSQL is down: no streaming needed", cluster: c, req: dcs.Failover{Member: "b"},
			states: []MemberState{peer("a", stopped(5<<20, 1), nil), notStreaming, cc, d}, winner: "b"},
		{name: "unknown member", cluster: c, req: dcs.Failover{Leader: "a", Member: "zed"}, states: live, refused: "zed is not a member of the cluster"},
		{name: "the leader itself", cluster: c, req: dcs.Failover{Leader: "a", Member: "a"}, states: live, refused: "a is the leader already"},
		{name: "the leader named wrong", cluster: c, req: dcs.Failover{Leader: "b", Member: "c"}, states: live, refused: "b is not the leader, a is"},
		{name: "switchover without a leader", cluster: cluster("", "a", "b"), req: dcs.Failover{Leader: "a", Member: "b"}, states: live,
			refused: "there is no leader to switch over from"},
		{name: "tagged nofailover", cluster: c, req: dcs.Failover{Leader: "a", Member: "d"}, states: live, refused: "d cannot take over: tagged nofailover"},
		{name: "lagging beyond maximum_lag_on_failover", cluster: c, req: dcs.Failover{Leader: "a", Member: "b"},
			states: []MemberState{leaderA, peer("b", replica(1<<20, 1), nil), cc, d}, refused: "b cannot take over: lags 4194304 bytes"},
		{name: "lagging behind the leader's live answer, the status key not written yet", cluster: with(c, func(c *dcs.Cluster) { c.Status.Optime = 1 << 20 }),
			req:    dcs.Failover{Leader: "a", Member: "b"},
			states: []MemberState{leaderA, peer("b", replica(1<<20, 1), nil), cc, d}, refused: "b cannot take over: lags 4194304 bytes"},
		{name: "not streaming from the leader", cluster: c, req: dcs.Failover{Leader: "a", Member: "b"},
			states: []MemberState{leaderA, notStreaming, cc, d}, refused: "b cannot take over: it does not stream WAL from the leader a"},
		{name: "not reachable", cluster: c, req: dcs.Failover{Leader: "a", Member: "b"},
			states: []MemberState{leaderA, {Name: "b"}, cc, d}, refused: "b cannot take over: not reachable"},
		{name: "stopped", cluster: c, req: dcs.Failover{Leader: "a", Member: "b"},
			states: []MemberState{leaderA, peer("b", stopped(5<<20, 1), nil), cc, d}, refused: "b cannot take over: PostgreSQL is not running"},
		{name: "nobody else can take over", cluster: c, req: dcs.Failover{Leader: "a"},
			states: []MemberState{leaderA, {Name: "b"}, {Name: "c"}, d}, refused: "no other member can take over"},
		{name: "an empty request", cluster: c, req: dcs.Failover{}, states: live, refused: "needs the leader or a candidate"},
	} {
		t.Run(r.name, func(t *testing.T) {
			e, refused := CheckRequest(r.cluster, settings, r.req, r.states, t0)
			t.Logf("refused %q", refused)
			if r.refused == "" && refused != "" || r.refused != "" && !strings.Contains(refused, r.refused) {
				t.Fatalf("refused %q, want %q", refused, r.refused)
			}
			if r.winner != "" && (e == nil || e.Winner != r.winner) {
				t.Fatalf("election %+v, want winner %s", e, r.winner)
			}
		})
	}
}
