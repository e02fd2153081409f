package ha

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// post sends a JSON body to a member's REST API and returns the status and
// the decoded answer.
func (m *member) post(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, m.api+path, strings.NewReader(body))
	resp, err := (&http.Client{Timeout: 90 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	t.Logf("%s %s %s: %d %s", method, path, body, resp.StatusCode, strings.TrimSpace(string(raw)))
	return resp.StatusCode, out
}

// In-process agents answer the operators' routes: a refused switchover
// changes nothing, a switchover hands the key over and back, a restart
// keeps the leader, and PATCH /config pauses the cluster.
func TestAgentsAPI(t *testing.T) {
	e := harness.StartEtcd(t)
	primary := harness.StartPostgres(t, harness.PGOptions{})
	standby := harness.StartStandby(t, primary, nil)
	a := startMember(t, e, "a", primary)
	waitChecks(t, 30*time.Second, map[*member]map[string]int{a: {"/primary": 200}})
	b := startMember(t, e, "b", standby)
	waitChecks(t, 30*time.Second, map[*member]map[string]int{b: {"/replica": 200}})

	if code, out := a.post(t, "POST", "/switchover", `{"leader":"a","candidate":"zed"}`); code != 412 || !strings.Contains(out["error"].(string), "zed is not a member") {
		t.Fatalf("switchover to zed: %d %v", code, out)
	}
	if code, _ := a.post(t, "POST", "/switchover", `not json`); code != 400 {
		t.Errorf("bad body: %d", code)
	}
	harness.Wait(t, 30*time.Second, "GET /cluster to show b streaming", func() (bool, error) {
		resp, err := http.Get(a.api + "/cluster")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		var c ClusterInfo
		err = json.NewDecoder(resp.Body).Decode(&c)
		return err == nil && len(c.Members) == 2 && c.Leader == "a" && c.Members[1].State == "streaming", fmt.Errorf("%+v %v", c, err)
	})
	// b's WAL receiver may restart (its slot is set up) after GET /cluster
	// saw it streaming: the API's live check of the members (412) or the
	// leader's own check before it hands over (503) then refuses, and says
	// why. Only that refusal is retried.
	harness.Wait(t, 30*time.Second, "the switchover to b", func() (bool, error) {
		code, out := a.post(t, "POST", "/switchover", `{"leader":"a","candidate":"b"}`)
		if (code == 412 || code == 503) && strings.Contains(fmt.Sprint(out["error"]), "does not stream") {
			return false, fmt.Errorf("%v", out)
		}
		if code != 200 || out["leader"] != "b" {
			t.Fatalf("switchover to b: %d %v", code, out)
		}
		return true, nil
	})
	waitChecks(t, 30*time.Second, map[*member]map[string]int{a: {"/primary": 503, "/replica": 200}, b: {"/primary": 200}})
	if code, out := b.post(t, "POST", "/restart", ``); code != 200 {
		t.Fatalf("restart b: %d %v", code, out)
	}
	waitChecks(t, 30*time.Second, map[*member]map[string]int{b: {"/primary": 200, "/leader": 200}})
	if code, out := a.post(t, "PATCH", "/config", `{"pause": true}`); code != 200 || out["pause"] != true {
		t.Fatalf("pause: %d %v", code, out)
	}
	harness.Wait(t, 10*time.Second, "b to report the pause", func() (bool, error) {
		return b.agent.lastView().settings.Pause, nil
	})
	// In maintenance mode, a switchover needs a named candidate.
	if code, out := b.post(t, "POST", "/switchover", `{"leader":"b"}`); code != 412 || !strings.Contains(out["error"].(string), "maintenance mode") {
		t.Fatalf("switchover without candidate while paused: %d %v", code, out)
	}
	// b's restart cut a's WAL receiver, which reconnects within
	// wal_retrieve_retry_interval.
	harness.Wait(t, 30*time.Second, "a to stream from b again", func() (bool, error) {
		return a.agent.lastView().pg.Streaming, nil
	})
	harness.Wait(t, 30*time.Second, "the switchover back to a while paused", func() (bool, error) {
		code, out := b.post(t, "POST", "/switchover", `{"leader":"b","candidate":"a"}`)
		if code != 200 && strings.Contains(fmt.Sprint(out["error"]), "does not stream") {
			return false, fmt.Errorf("%v", out)
		}
		if code != 200 {
			t.Fatalf("switchover back to a while paused: %d %v", code, out)
		}
		return true, nil
	})
	waitChecks(t, 30*time.Second, map[*member]map[string]int{a: {"/primary": 200}})
}
