package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// testCA issues certificates for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pgkeep test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a certificate and key (PEM) for 127.0.0.1, for a server or
// a client.
func (ca *testCA) issue(t *testing.T, serial int64, server bool) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// The REST API over HTTPS: the checks answer with the CA trusted, ctl works
// through it with the token, a client certificate authenticates a mutating
// call, and a call with neither is refused.
func TestHATLS(t *testing.T) {
	hc := &haCluster{etcd: harness.StartEtcd(t), members: map[string]*ctlMember{}, dir: harness.Dir(t)}
	ca := newTestCA(t)
	files := map[string][]byte{"ca.pem": ca.pem, "token": []byte(haToken)}
	files["server.pem"], files["server.key"] = ca.issue(t, 2, true)
	clientCert, clientKey := ca.issue(t, 3, false)
	for name, data := range files {
		writeFile(t, filepath.Join(hc.dir, name), string(data))
	}
	f := func(name string) string { return filepath.Join(hc.dir, name) }
	base := haBase(hc) + "ha:\n  tls-cert-file: " + f("server.pem") + "\n  tls-key-file: " + f("server.key") +
		"\n  client-ca-file: " + f("ca.pem") + "\n  ca-file: " + f("ca.pem") + "\n  token-file: " + f("token") + "\n"
	hc.config = filepath.Join(hc.dir, "ctl.yaml")
	writeFile(t, hc.config, base)
	m := startCtlMember(t, hc, "a", harness.StartPostgres(t, harness.PGOptions{}), base)
	hc.members["a"] = m
	plainURL := m.api
	m.api = strings.Replace(m.api, "http://", "https://", 1)
	https := m.api

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.pem)
	cert, err := tls.X509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	plain := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	withCert := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
	harness.Wait(t, 60*time.Second, "a to lead, over HTTPS", func() (bool, error) {
		resp, err := plain.Get(https + "/primary")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == 200, nil
	})
	if resp, err := httpClient.Get(plainURL + "/primary"); err == nil && resp.StatusCode == 200 {
		t.Error("the HTTPS API answered a check over plain HTTP")
	}
	var status struct {
		State         string `json:"state"`
		Role          string `json:"role"`
		ServerVersion int    `json:"server_version"`
		SystemID      string `json:"database_system_identifier"`
		DCSLastSeen   int64  `json:"dcs_last_seen"`
		Patroni       struct{ Version, Name, Scope string }
	}
	harness.Wait(t, 10*time.Second, "GET /patroni to tell the server's identity", func() (bool, error) {
		resp, err := plain.Get(https + "/patroni")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		err = json.NewDecoder(resp.Body).Decode(&status)
		return err == nil && status.ServerVersion >= 150000 && status.SystemID != "" && status.DCSLastSeen > 0, fmt.Errorf("%+v %v", status, err)
	})
	if status.Role != "primary" || status.State != "running" || status.Patroni.Name != "a" || status.Patroni.Scope != "main" || status.Patroni.Version == "" {
		t.Errorf("GET /patroni: %+v", status)
	}
	if info := hc.list(t); info.Leader != "a" || !strings.HasPrefix(infoAPI(t, hc), "https://") {
		t.Errorf("list: %+v", info)
	}
	for _, c := range []struct {
		client *http.Client
		want   int
	}{{plain, 401}, {withCert, 200}} {
		req, _ := http.NewRequest("PATCH", https+"/config", strings.NewReader(`{"tls_test": 1}`))
		resp, err := c.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("PATCH /config: %d, want %d", resp.StatusCode, c.want)
		}
	}
	r := hc.ctl(t, nil, "edit-config", "--set", "maximum_lag_on_failover=2097152")
	if r.code != 0 || !strings.Contains(r.stdout, `"tls_test": 1`) || !strings.Contains(r.stdout, "2097152") {
		t.Errorf("ctl edit-config over HTTPS with the token: %s", r)
	}
	if r := hc.ctl(t, nil, "show-config"); r.code != 0 || !strings.Contains(r.stdout, `"maximum_lag_on_failover": 2097152`) {
		t.Errorf("ctl show-config: %s", r)
	}
	if r := hc.ctl(t, nil, "restart", "a"); r.code != 0 || !strings.Contains(r.stdout, "restarted") {
		t.Errorf("ctl restart over HTTPS: %s", r)
	}
	hc.waitLeader(t, "a")
}

// infoAPI is the api_url of a's member key.
func infoAPI(t *testing.T, hc *haCluster) string {
	resp, err := hc.etcd.Client.Get(t.Context(), "/service/main/members/a")
	if err != nil || resp.Count != 1 {
		t.Fatalf("member key of a: %v", err)
	}
	v := string(resp.Kvs[0].Value)
	i := strings.Index(v, `"api_url":"`)
	if i < 0 {
		return ""
	}
	return v[i+len(`"api_url":"`):]
}
