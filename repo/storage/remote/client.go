package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// Config locates a repository API and says how to authenticate to it.
type Config struct {
	// URL is the API's base URL, e.g. "https://repo.example:8443". Plain
	// http is accepted only for a loopback host: the token must not travel
	// in clear text.
	URL string
	// Token is the bearer token (secret); empty sends none.
	Token string
	// CAFile holds the CA certificates (PEM) that signed the server's
	// certificate; empty trusts the system's CAs.
	CAFile string
	// CertFile and KeyFile hold a client certificate and its key (PEM),
	// presented to a server that authenticates clients by certificate.
	CertFile, KeyFile string
	// DialTimeout bounds connecting, TLS handshake included. Default 10s.
	DialTimeout time.Duration
	// ResponseTimeout bounds the wait for the response headers once a
	// request is sent. Default 2m. Bodies are bounded only by the context.
	ResponseTimeout time.Duration
}

// String describes the configuration with the token redacted.
func (c Config) String() string {
	token := "none"
	if c.Token != "" {
		token = "redacted"
	}
	return fmt.Sprintf("remote.Config{URL:%q Token:%s CAFile:%q CertFile:%q KeyFile:%q DialTimeout:%v ResponseTimeout:%v}",
		c.URL, token, c.CAFile, c.CertFile, c.KeyFile, c.DialTimeout, c.ResponseTimeout)
}

// GoString is String, so that %#v does not print the token either.
func (c Config) GoString() string { return c.String() }

// Client is a storage.Storage on a repository API. It is safe for
// concurrent use and reuses its connections.
type Client struct {
	base  string // URL without a trailing slash
	token string
	tr    *http.Transport
	http  *http.Client
}

var (
	_ storage.Storage     = (*Client)(nil)
	_ storage.TempRemover = (*Client)(nil)
)

// New returns a client of the repository API at cfg.URL. It checks the
// configuration and loads the certificates; it does not contact the server
// (the first request does).
func New(ctx context.Context, cfg Config) (storage.Storage, error) {
	base, err := parseBaseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("repository server %q: %w", cfg.URL, err)
	}
	tlsCfg, err := clientTLSConfig(cfg.CAFile, cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("repository server %s: %w", base, err)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.ResponseTimeout <= 0 {
		cfg.ResponseTimeout = 2 * time.Minute
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   cfg.DialTimeout,
		ResponseHeaderTimeout: cfg.ResponseTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
	}
	return &Client{
		base:  base,
		token: cfg.Token,
		tr:    tr,
		// No client-wide timeout: objects can be large; every call has a context.
		http: &http.Client{Transport: tr, CheckRedirect: noRedirects},
	}, nil
}

// parseBaseURL checks raw and returns it without a trailing slash.
func parseBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	switch {
	case u.Host == "":
		return "", errors.New("want an absolute URL such as https://repo.example:8443")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("the URL may not carry credentials, a query or a fragment")
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	case u.Scheme == "http":
		return "", errors.New("plain http is accepted only on a loopback address: use https")
	default:
		return "", fmt.Errorf("scheme %q: want https", u.Scheme)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// noRedirects makes a redirect an error: the API never redirects, and
// following one would send the token elsewhere.
func noRedirects(req *http.Request, via []*http.Request) error {
	return fmt.Errorf("the repository server redirected to %s", req.URL.Redacted())
}

// Location implements storage.Storage.
func (c *Client) Location() string { return "server:" + c.base }

// Close implements storage.Storage: it closes the idle connections.
func (c *Client) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}

// call sends a request and returns the response when its status is want;
// any other answer becomes an error that wraps the storage sentinel the
// server named. The caller closes the response body.
func (c *Client) call(req *http.Request, want int) (*http.Response, error) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("User-Agent", "pgkeep")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(err)
	}
	if resp.StatusCode != want {
		defer closeBody(resp)
		return nil, c.statusError(resp)
	}
	return resp, nil
}

// newRequest builds a request for path (escaped) and query under the base URL.
func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body io.Reader) (*http.Request, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return http.NewRequestWithContext(ctx, method, u, body)
}

// closeBody reads a little of what is left, so the connection can be
// reused, and closes the body.
func closeBody(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
