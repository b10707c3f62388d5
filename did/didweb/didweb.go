// Package didweb implements the did:web DID method
// (https://w3c-ccg.github.io/did-method-web/): the DID names an HTTPS URL
// from which the DID document is fetched.
//
//	did:web:example.com                 → https://example.com/.well-known/did.json
//	did:web:example.com:user:alice      → https://example.com/user/alice/did.json
//	did:web:example.com%3A8443          → https://example.com:8443/.well-known/did.json
//
// Resolution goes over HTTPS only. For local development a Method may be
// told to use plain HTTP for loopback hosts (localhost, 127.0.0.0/8, ::1);
// IP addresses are otherwise refused, as the method specification requires.
// Responses are limited to 1 MiB and must be a JSON DID document whose id
// is the DID being resolved.
package didweb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/medid/medid/did"
)

// MethodName is the DID method name, "web".
const MethodName = "web"

const (
	// MaxDocumentSize is the largest response body Resolve reads.
	MaxDocumentSize = 1 << 20
	// DefaultTimeout bounds a resolution whose context has no deadline.
	DefaultTimeout = 10 * time.Second
	// maxRedirects is the number of HTTP redirects Resolve follows.
	maxRedirects = 3
)

// Method resolves did:web DIDs over HTTP(S). It is safe for concurrent use.
type Method struct {
	client           *http.Client
	insecureLoopback bool
}

var _ did.Method = (*Method)(nil)

// New returns a did:web Method that fetches documents with client (a new
// default client if nil). The client is copied and given a redirect policy
// of its own: at most 3 redirects, each to an HTTPS URL (or, as below, to
// plain HTTP on a loopback host).
//
// If allowInsecureLoopback is true, DIDs naming a loopback host
// (localhost, 127.0.0.0/8 or ::1, for instance did:web:localhost%3A8080)
// are fetched over plain HTTP; this is meant for tests and local
// development only. Otherwise every fetch uses HTTPS and DIDs naming an IP
// address are invalid.
//
// The client's transport decides which addresses may be dialled; a server
// resolving DIDs for untrusted callers should give it a dialer that refuses
// internal networks.
func New(client *http.Client, allowInsecureLoopback bool) *Method {
	var c http.Client
	if client != nil {
		c = *client
	}
	m := &Method{insecureLoopback: allowInsecureLoopback}
	c.CheckRedirect = m.checkRedirect
	m.client = &c
	return m
}

// Name returns "web".
func (m *Method) Name() string { return MethodName }

// checkRedirect is the client's redirect policy.
func (m *Method) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return errors.New("did:web: too many redirects")
	}
	switch {
	case req.URL.Scheme == "https":
		return nil
	case req.URL.Scheme == "http" && m.insecureLoopback && isLoopback(req.URL.Hostname()):
		return nil
	}
	return errors.New("did:web: redirect to a non-HTTPS URL")
}

// isLoopback reports whether host (without port or brackets) is a loopback
// name or address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// documentURL returns the URL of the DID document of d.
func (m *Method) documentURL(d did.DID) (*url.URL, error) {
	if d.Method() != MethodName {
		return nil, errors.New("not a did:web DID")
	}
	segs := strings.Split(d.ID(), ":")
	hostport, err := url.PathUnescape(segs[0])
	if err != nil {
		return nil, errors.New("malformed percent-encoding in host")
	}
	host, port := hostport, ""
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.HasSuffix(hostport, "]") {
		host, port = hostport[:i], hostport[i+1:]
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return nil, fmt.Errorf("invalid port %q", port)
		}
	}
	bare := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	scheme := "https"
	if ip, err := netip.ParseAddr(bare); err == nil {
		if !m.insecureLoopback || !ip.IsLoopback() {
			return nil, errors.New("IP addresses are not allowed")
		}
		if ip.Is6() != (bare != host) { // IPv6 needs brackets, IPv4 must not have them
			return nil, errors.New("invalid host")
		}
		scheme = "http"
	} else if !isDNSName(host) {
		return nil, errors.New("invalid host name")
	} else if m.insecureLoopback && isLoopback(host) {
		scheme = "http"
	}
	path := "/.well-known/did.json"
	if len(segs) > 1 {
		parts := make([]string, len(segs)-1)
		for i, s := range segs[1:] {
			p, err := url.PathUnescape(s)
			if err != nil {
				return nil, errors.New("malformed percent-encoding in path")
			}
			if p == "" || p == "." || p == ".." || strings.ContainsFunc(p, func(r rune) bool {
				return r == '/' || r == '\\' || r < 0x20 || r == 0x7f
			}) {
				return nil, fmt.Errorf("invalid path segment %q", s)
			}
			parts[i] = p
		}
		path = "/" + strings.Join(parts, "/") + "/did.json"
	}
	if port != "" {
		host = net.JoinHostPort(bare, port)
	}
	return &url.URL{Scheme: scheme, Host: host, Path: path}, nil
}

// isDNSName reports whether s is a syntactically valid DNS host name.
func isDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Resolve fetches and checks the DID document of d. An HTTP 404 or 410
// gives an error wrapping did.ErrNotFound; a malformed DID one wrapping
// did.ErrInvalidDID; version options (did:web keeps no history) one
// wrapping did.ErrInvalidOptions. Other failures (network, status, media
// type, size, a document that is invalid or has another id) give other
// errors, which callers report as internal errors.
//
// If ctx has no deadline, the fetch is bounded by DefaultTimeout.
func (m *Method) Resolve(ctx context.Context, d did.DID, opts did.ResolutionOptions) (*did.Result, error) {
	u, err := m.documentURL(d)
	if err != nil {
		return nil, fmt.Errorf("%w: did:web: %v", did.ErrInvalidDID, err)
	}
	if opts.VersionID != "" || !opts.VersionTime.IsZero() {
		return nil, fmt.Errorf("%w: did:web does not support versionId or versionTime", did.ErrInvalidOptions)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("did:web: %w", err)
	}
	req.Header.Set("Accept", "application/did+json, application/did+ld+json;q=0.9, application/json;q=0.8")
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("did:web: fetching %s: %w", u, err)
	}
	defer resp.Body.Close()

	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, fmt.Errorf("%w: did:web: %s returned %d", did.ErrNotFound, u, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("did:web: %s returned %d", u, resp.StatusCode)
	}
	if err := checkContentType(resp.Header.Get("Content-Type")); err != nil {
		return nil, fmt.Errorf("did:web: %s: %w", u, err)
	}
	if resp.ContentLength > MaxDocumentSize {
		return nil, fmt.Errorf("did:web: %s: document larger than %d bytes", u, MaxDocumentSize)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("did:web: reading %s: %w", u, err)
	}
	if len(body) > MaxDocumentSize {
		return nil, fmt.Errorf("did:web: %s: document larger than %d bytes", u, MaxDocumentSize)
	}
	var doc did.Document
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("did:web: %s: %w", u, err)
	}
	if doc.ID != d.String() {
		return nil, fmt.Errorf("did:web: %s: document id does not match the DID", u)
	}
	if err := doc.Validate(); err != nil {
		return nil, fmt.Errorf("did:web: %s: invalid DID document: %w", u, err)
	}
	return &did.Result{Document: &doc}, nil
}

// checkContentType accepts the JSON media types a DID document is served
// with.
func checkContentType(ct string) error {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("unusable Content-Type %q", ct)
	}
	switch mt {
	case "application/did+json", "application/did+ld+json", "application/json":
		return nil
	}
	return fmt.Errorf("unexpected Content-Type %q", mt)
}
