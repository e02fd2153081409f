package ha

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/pgkeep/pgkeep/ha/dcs"
)

func TestAuthorizeMutatingCalls(t *testing.T) {
	withCA := &tls.Config{ClientCAs: x509.NewCertPool()}
	for _, c := range []struct {
		name, token, from, auth string
		tls                     *tls.Config
		verified                bool
		want                    int
	}{
		{name: "no token: loopback accepted", from: "127.0.0.1:5000", want: 0},
		{name: "no token: IPv6 loopback accepted", from: "[::1]:5000", want: 0},
		{name: "no token: another host refused", from: "192.0.2.7:5000", want: 403},
		{name: "token: none sent", token: "t", from: "127.0.0.1:5000", want: 401},
		{name: "token: malformed", token: "t", from: "127.0.0.1:5000", auth: "Basic dDp0", want: 401},
		{name: "token: wrong", token: "t", from: "192.0.2.7:5000", auth: "Bearer x", want: 403},
		{name: "token: right, from anywhere", token: "t", from: "192.0.2.7:5000", auth: "Bearer t", want: 0},
		{name: "client CA: verified certificate", tls: withCA, verified: true, from: "192.0.2.7:5000", want: 0},
		{name: "client CA: no certificate, no token", tls: withCA, from: "127.0.0.1:5000", want: 401},
		{name: "client CA and token: token accepted", tls: withCA, token: "t", from: "192.0.2.7:5000", auth: "Bearer t", want: 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := &Agent{o: Options{Token: c.token, TLS: c.tls}}
			r := httptest.NewRequest(http.MethodPost, "/switchover", nil)
			r.RemoteAddr = c.from
			if c.auth != "" {
				r.Header.Set("Authorization", c.auth)
			}
			if c.verified {
				r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{}}}}
			}
			if code, msg := a.authorize(r); code != c.want {
				t.Errorf("authorize: %d %q, want %d", code, msg, c.want)
			}
		})
	}
}

func TestMergePatch(t *testing.T) {
	dst := map[string]any{"ttl": 3.0, "pause": true, "postgresql": map[string]any{"parameters": map[string]any{"work_mem": "4MB", "a": "b"}}}
	got := MergePatch(dst, map[string]any{"pause": nil, "loop_wait": 1.0,
		"postgresql": map[string]any{"parameters": map[string]any{"work_mem": "8MB", "a": nil}}})
	want := map[string]any{"ttl": 3.0, "loop_wait": 1.0, "postgresql": map[string]any{"parameters": map[string]any{"work_mem": "8MB"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merged %v, want %v", got, want)
	}
}

func TestClusterInfo(t *testing.T) {
	c := dcs.Cluster{Leader: &dcs.Leader{Name: "a"}, Status: dcs.Status{Optime: 3 << 20},
		Config: &dcs.ClusterConfig{Data: map[string]any{"pause": true}},
		Members: []dcs.Member{
			{Name: "a", Data: dcs.MemberData{ConnURL: "postgres://10.0.0.1:5432/postgres", State: "running", Role: "primary", XLogLocation: 4 << 20, Timeline: 2}},
			{Name: "b", Data: dcs.MemberData{ConnURL: "postgres://10.0.0.2:5433/postgres", State: "running", Role: "replica",
				ReceiveLSN: 3 << 20, ReplayLSN: 2 << 20, XLogLocation: 2 << 20, ReplicationState: "streaming", Timeline: 2}},
			{Name: "c", Data: dcs.MemberData{ConnURL: "postgres://10.0.0.3:5432/postgres", State: "stopped", Role: "replica"}},
		}}
	info := NewClusterInfo(c, "main")
	if !info.Pause || info.Leader != "a" || info.LeaderLSN != 4<<20 || len(info.Members) != 3 {
		t.Fatalf("info %+v", info)
	}
	a, b, cc := info.Members[0], info.Members[1], info.Members[2]
	if a.Role != "leader" || a.Host != "10.0.0.1" || a.Port != 5432 || a.Lag == nil || *a.Lag != 0 {
		t.Errorf("a %+v", a)
	}
	if b.Role != "replica" || b.State != "streaming" || b.Lag == nil || *b.Lag != 1<<20 || b.Port != 5433 {
		t.Errorf("b %+v (lag %v)", b, b.Lag)
	}
	if cc.State != "stopped" || cc.Lag != nil {
		t.Errorf("c %+v", cc)
	}
}
