package ha

import (
	"context"
	"sync"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/ha/decide"
)

// askPeers asks every other member's REST API for its state, in parallel,
// each with a short timeout. A member that does not answer in time is
// unreachable: it cannot win an election, nor hold one up.
func (a *Agent) askPeers(ctx context.Context, c dcs.Cluster) []decide.MemberState {
	out := make([]decide.MemberState, 0, len(c.Members))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range c.Members {
		if m.Name == a.o.Name {
			continue
		}
		wg.Go(func() {
			st, err := a.askPeer(ctx, m.Data.APIURL)
			if err != nil {
				a.log.Debug("member did not answer", "peer", m.Name, "err", err)
				st = decide.MemberState{}
			}
			st.Name = m.Name
			mu.Lock()
			out = append(out, st)
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// askPeer GETs a member's status.
func (a *Agent) askPeer(ctx context.Context, apiURL string) (decide.MemberState, error) {
	ctx, cancel := context.WithTimeout(ctx, peerTimeout(a.o))
	defer cancel()
	s, err := fetchStatus(ctx, a.http, apiURL)
	if err != nil {
		return decide.MemberState{}, err
	}
	return s.memberState(""), nil
}
