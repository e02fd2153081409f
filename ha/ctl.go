package ha

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/ha/decide"
)

// CtlOptions configure a Ctl, the client side of `pgkeep ctl`.
type CtlOptions struct {
	// Etcd is a connected client; Namespace and Cluster locate the keys.
	Etcd      *clientv3.Client
	Namespace string
	Cluster   string
	// Token is sent as "Authorization: Bearer" to the members' REST APIs.
	Token string
	// TLS reaches members whose API speaks HTTPS (nil: the system's CAs).
	TLS *tls.Config
	// Defaults are the dynamic settings where the config key is silent
	// (maximum_lag_on_failover for a dry run).
	Defaults dcs.Settings
	// Timeout bounds one call to a member; the calls that wait for a
	// switchover take longer (default 5 s).
	Timeout time.Duration
}

// Ctl reads the cluster from etcd and acts through the members' REST APIs.
type Ctl struct {
	o    CtlOptions
	dcs  *dcs.DCS
	http *http.Client
}

// NewCtl returns a Ctl; it does not contact etcd.
func NewCtl(o CtlOptions) (*Ctl, error) {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	d, err := dcs.New(dcs.Options{Client: o.Etcd, Namespace: o.Namespace, Cluster: o.Cluster, Name: "pgkeep-ctl", TTL: time.Second, Timeout: o.Timeout})
	if err != nil {
		return nil, err
	}
	return &Ctl{o: o, dcs: d, http: &http.Client{Transport: &http.Transport{TLSClientConfig: o.TLS}}}, nil
}

// Cluster reads the cluster's keys.
func (c *Ctl) Cluster(ctx context.Context) (dcs.Cluster, error) { return c.dcs.Cluster(ctx) }

// Info reads the cluster as `ctl list` shows it.
func (c *Ctl) Info(ctx context.Context) (ClusterInfo, error) {
	cl, err := c.dcs.Cluster(ctx)
	if err != nil {
		return ClusterInfo{}, err
	}
	return NewClusterInfo(cl, c.o.Cluster), nil
}

// Reply is a member's answer to a call.
type Reply struct {
	Member string
	Status int
	// Message is the answer's "message", or its "error" when it failed.
	Message string
	Body    map[string]any
}

// OK reports a 2xx answer.
func (r Reply) OK() bool { return r.Status >= 200 && r.Status < 300 }

// Call sends method path with body (JSON, or none when nil) to the REST API
// of member, waiting at most wait (0: the Timeout).
func (c *Ctl) Call(ctx context.Context, cl dcs.Cluster, member, method, path string, body any, wait time.Duration) (Reply, error) {
	m, ok := cl.Member(member)
	if !ok {
		return Reply{}, fmt.Errorf("%s is not a member of cluster %s", member, c.o.Cluster)
	}
	base, err := apiBase(m.Data.APIURL)
	if err != nil {
		return Reply{}, fmt.Errorf("member %s: %w", member, err)
	}
	if wait <= 0 {
		wait = c.o.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return Reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return Reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.o.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Reply{}, fmt.Errorf("%s %s on %s: %w", method, path, member, err)
	}
	defer resp.Body.Close()
	r := Reply{Member: member, Status: resp.StatusCode}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(raw, &r.Body) == nil {
		r.Message, _ = r.Body["message"].(string)
		if e, ok := r.Body["error"].(string); ok {
			r.Message = e
		}
	}
	if r.Message == "" {
		r.Message = strings.TrimSpace(string(raw))
	}
	if r.Message == "" {
		r.Message = resp.Status
	}
	return r, nil
}

// CallFirst sends the call to the first member in order that answers
// (a refusal is an answer; a member that cannot be reached is skipped).
func (c *Ctl) CallFirst(ctx context.Context, cl dcs.Cluster, order []string, method, path string, body any, wait time.Duration) (Reply, error) {
	var errs []error
	for _, name := range order {
		r, err := c.Call(ctx, cl, name, method, path, body, wait)
		if err == nil {
			return r, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return Reply{}, errors.New("no member to ask")
	}
	return Reply{}, fmt.Errorf("no member answered: %w", errors.Join(errs...))
}

// LeaderFirst orders the members: the leader, then the others by name;
// with prefer, those first.
func LeaderFirst(cl dcs.Cluster, prefer ...string) []string {
	out := append([]string{}, prefer...)
	if l := cl.LeaderName(); l != "" {
		out = append(out, l)
	}
	for _, m := range cl.Members {
		out = append(out, m.Name)
	}
	seen := map[string]bool{}
	uniq := out[:0]
	for _, n := range out {
		if n != "" && !seen[n] {
			seen[n] = true
			uniq = append(uniq, n)
		}
	}
	return uniq
}

// DryRun is the election a failover would hold now: the leader (if any) is
// leaving; to, when set, is the requested candidate. refused says why a
// failover to to would be refused.
func (c *Ctl) DryRun(ctx context.Context, to string) (e *decide.Election, refused string, err error) {
	cl, err := c.dcs.Cluster(ctx)
	if err != nil {
		return nil, "", err
	}
	s := cl.Settings(c.o.Defaults)
	states := c.states(ctx, cl)
	if to != "" {
		e, refused = decide.CheckRequest(cl, s, dcs.Failover{Member: to}, states, time.Now())
		if e != nil || refused != "" {
			return e, refused, nil
		}
	}
	if l := cl.LeaderName(); l != "" {
		cl.Failover = &dcs.Failover{Leader: l}
	} else {
		cl.Failover = nil
	}
	return decide.Elect(cl, s, states, time.Now()), "", nil
}

// states asks every member's REST API for its state, as an agent does in
// an election.
func (c *Ctl) states(ctx context.Context, cl dcs.Cluster) []decide.MemberState {
	var out []decide.MemberState
	for _, m := range cl.Members {
		cctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
		s, err := fetchStatus(cctx, c.http, m.Data.APIURL)
		cancel()
		st := decide.MemberState{Name: m.Name}
		if err == nil {
			st = s.memberState(m.Name)
		}
		out = append(out, st)
	}
	return out
}

// fetchStatus GETs a member's status JSON from its api_url.
func fetchStatus(ctx context.Context, client *http.Client, apiURL string) (memberStatus, error) {
	if apiURL == "" {
		return memberStatus{}, errors.New("no api_url")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiURL, nil)
	if err != nil {
		return memberStatus{}, fmt.Errorf("api_url %q: %w", apiURL, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return memberStatus{}, err
	}
	defer resp.Body.Close()
	var s memberStatus
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&s); err != nil {
		return memberStatus{}, fmt.Errorf("status from %s: %w", apiURL, err)
	}
	return s, nil
}

// apiBase is the REST API's root from a member's api_url
// (http://host:port/patroni -> http://host:port).
func apiBase(apiURL string) (string, error) {
	u, err := url.Parse(apiURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("api_url %q: not an http(s) URL", apiURL)
	}
	return u.Scheme + "://" + u.Host, nil
}
