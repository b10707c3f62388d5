// Package statuscheck fetches, verifies and caches the credential status
// lists a verifier consults: IETF Token Status Lists (a statuslist+jwt
// token) and W3C Bitstring Status Lists (a BitstringStatusListCredential
// secured as vc+jwt).
//
// A list is fetched over HTTP with a timeout and a size limit, and its
// signature is checked against the issuer of the credential that points to
// it: the list's key is looked up, through the caller's KeyFunc, as a
// verification method of that issuer's DID. A list signed by anyone else is
// refused. A verified list is cached, keyed by its URL and that issuer, for
// its ttl (the token's "ttl" claim, the credential's "ttl" member, or else
// the response's Cache-Control max-age, or else DefaultTTL), never past
// the list's own expiry and never longer than MaxTTL. Concurrent lookups of
// one list share one fetch.
//
// Errors separate a list that could not be fetched (ErrUnreachable: the
// caller's policy decides) from one that was fetched and is not acceptable
// (ErrInvalidList: always a failure).
package statuscheck

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/status/bitstring"
	"github.com/medid/medid/credentials/status/tokenlist"
	"github.com/medid/medid/internal/keys"
)

// Defaults for Options.
const (
	DefaultTimeout   = 5 * time.Second
	DefaultTTL       = 5 * time.Minute
	DefaultMaxTTL    = 24 * time.Hour
	DefaultCacheSize = 1024
	// MaxListSize bounds a fetched list in bytes.
	MaxListSize = tokenlist.MaxTokenSize
	// maxBitstringBits bounds a decoded bitstring: 16 MiB.
	maxBitstringBits = 1 << 27
)

// Errors.
var (
	// ErrUnreachable: the list could not be fetched (network error,
	// timeout, a status other than 200).
	ErrUnreachable = errors.New("statuscheck: status list unreachable")
	// ErrInvalidList: the list was fetched but is not acceptable (bad
	// signature, signer other than the credential's issuer, wrong type or
	// purpose, expired, malformed, index out of range).
	ErrInvalidList = errors.New("statuscheck: status list invalid")
	// ErrReference: the credential's reference to its list is unusable (a
	// URL that is not https, a negative index).
	ErrReference = errors.New("statuscheck: unusable status reference")
)

// KeyFunc returns the public key of verification method kid of issuer,
// which must be authorised for assertions. kid is what the list's header
// carries; it may be empty or relative, and the function must refuse a kid
// that is not a verification method of issuer.
type KeyFunc func(ctx context.Context, issuer, kid string) (crypto.PublicKey, error)

// Options configure a Checker.
type Options struct {
	// Client fetches the lists; nil means a client with Timeout.
	Client *http.Client
	// Timeout bounds one fetch; zero means DefaultTimeout.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// DefaultTTL is the cache lifetime of a list that states none; zero
	// means DefaultTTL.
	DefaultTTL time.Duration
	// MaxTTL caps every cache lifetime; zero means DefaultMaxTTL.
	MaxTTL time.Duration
	// CacheSize bounds the cached lists; zero means DefaultCacheSize.
	CacheSize int
	// AllowHTTP lets lists be fetched over plain http (tests). Otherwise
	// only https URLs are fetched.
	AllowHTTP bool
}

// Checker looks statuses up. It is safe for concurrent use.
type Checker struct {
	keys  KeyFunc
	opt   Options
	cache *lru.Cache[listKey, *entry]

	mu       sync.Mutex
	inflight map[listKey]*call
}

// listKey names a list as the credential that points to it does.
type listKey struct {
	kind, uri, issuer string
	purpose           bitstring.Purpose
}

// entry is a verified list in the cache.
type entry struct {
	token   *tokenlist.List
	bits    *bitstring.List
	purpose bitstring.Purpose
	expires time.Time
}

type call struct {
	done chan struct{}
	e    *entry
	err  error
}

// New returns a Checker that verifies lists with keys.
func New(keys KeyFunc, o Options) (*Checker, error) {
	if keys == nil {
		return nil, errors.New("statuscheck: a KeyFunc is required")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DefaultTTL <= 0 {
		o.DefaultTTL = DefaultTTL
	}
	if o.MaxTTL <= 0 {
		o.MaxTTL = DefaultMaxTTL
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	c, err := lru.New[listKey, *entry](o.CacheSize)
	if err != nil {
		return nil, err
	}
	return &Checker{keys: keys, opt: o, cache: c, inflight: map[listKey]*call{}}, nil
}

// TokenStatus returns the status at idx of the Token Status List at uri,
// which issuer must have signed: tokenlist.Valid, Invalid, Suspended or
// another value the list's bits allow.
func (c *Checker) TokenStatus(ctx context.Context, uri string, idx int, issuer string) (uint8, error) {
	if idx < 0 {
		return 0, fmt.Errorf("%w: negative index", ErrReference)
	}
	e, err := c.list(ctx, "token", uri, issuer, "", c.fetchToken)
	if err != nil {
		return 0, err
	}
	v, err := e.token.Get(idx)
	if err != nil {
		return 0, fmt.Errorf("%w: index %d: %v", ErrInvalidList, idx, err)
	}
	return v, nil
}

// BitstringStatus returns the bit at idx of the Bitstring Status List
// credential at uri, which issuer must have issued with statusPurpose
// purpose.
func (c *Checker) BitstringStatus(ctx context.Context, uri string, purpose bitstring.Purpose, idx int, issuer string) (bool, error) {
	if idx < 0 {
		return false, fmt.Errorf("%w: negative index", ErrReference)
	}
	if purpose != bitstring.Revocation && purpose != bitstring.Suspension {
		return false, fmt.Errorf("%w: statusPurpose %q is not supported (revocation, suspension)", ErrReference, purpose)
	}
	e, err := c.list(ctx, "bitstring", uri, issuer, purpose, c.fetchBitstring)
	if err != nil {
		return false, err
	}
	if e.purpose != purpose {
		return false, fmt.Errorf("%w: the list's statusPurpose is %q, the entry's %q", ErrInvalidList, e.purpose, purpose)
	}
	v, err := e.bits.Get(idx)
	if err != nil {
		return false, fmt.Errorf("%w: index %d: %v", ErrInvalidList, idx, err)
	}
	return v, nil
}

type fetchFunc func(ctx context.Context, uri, issuer string, purpose bitstring.Purpose) (*entry, error)

// list returns the cached list or fetches it, one fetch per key at a time.
func (c *Checker) list(ctx context.Context, kind, uri, issuer string, purpose bitstring.Purpose, fetch fetchFunc) (*entry, error) {
	key := listKey{kind: kind, uri: uri, issuer: issuer, purpose: purpose}
	// Only a list whose URL and issuer passed the checks below is cached.
	if e, ok := c.cache.Get(key); ok && c.opt.Now().Before(e.expires) {
		return e, nil
	}
	if err := c.checkURL(uri); err != nil {
		return nil, err
	}
	if issuer == "" {
		return nil, fmt.Errorf("%w: no issuer to check the list against", ErrReference)
	}
	c.mu.Lock()
	if cl, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		select {
		case <-cl.done:
			return cl.e, cl.err
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %v", ErrUnreachable, ctx.Err())
		}
	}
	cl := &call{done: make(chan struct{})}
	c.inflight[key] = cl
	c.mu.Unlock()

	// The fetch is shared: it must not end with the first caller's
	// context, only with the timeout.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opt.Timeout)
	cl.e, cl.err = fetch(fctx, uri, issuer, purpose)
	cancel()
	if cl.err == nil {
		c.cache.Add(key, cl.e)
	}
	c.mu.Lock()
	delete(c.inflight, key)
	c.mu.Unlock()
	close(cl.done)
	return cl.e, cl.err
}

func (c *Checker) checkURL(uri string) error {
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("%w: %.100q is not an absolute URL", ErrReference, uri)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && c.opt.AllowHTTP:
	default:
		return fmt.Errorf("%w: status lists are fetched over https only", ErrReference)
	}
	if u.User != nil {
		return fmt.Errorf("%w: a status list URL must not carry credentials", ErrReference)
	}
	return nil
}

// get fetches uri and returns the body and its cache lifetime from
// Cache-Control (zero when none).
func (c *Checker) get(ctx context.Context, uri, accept string) ([]byte, string, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, "", 0, fmt.Errorf("%w: %v", ErrReference, err)
	}
	req.Header.Set("Accept", accept)
	resp, err := c.opt.Client.Do(req)
	if err != nil {
		return nil, "", 0, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, "", 0, fmt.Errorf("%w: HTTP %d", ErrUnreachable, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxListSize+1))
	if err != nil {
		return nil, "", 0, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	if len(body) > MaxListSize {
		return nil, "", 0, fmt.Errorf("%w: larger than %d bytes", ErrInvalidList, MaxListSize)
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return body, ct, maxAge(resp.Header.Get("Cache-Control")), nil
}

// maxAge returns the max-age of a Cache-Control value, or zero.
func maxAge(cc string) time.Duration {
	for d := range strings.SplitSeq(cc, ",") {
		d = strings.TrimSpace(d)
		if strings.EqualFold(d, "no-store") {
			return 0
		}
		if v, ok := strings.CutPrefix(strings.ToLower(d), "max-age="); ok {
			n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
			if err == nil && n > 0 && n < 1<<31 {
				return time.Duration(n) * time.Second
			}
		}
	}
	return 0
}

// expiry is when a list fetched now stops being cached.
func (c *Checker) expiry(now time.Time, ttl, header time.Duration, listExp time.Time) time.Time {
	d := ttl
	if d <= 0 {
		d = header
	}
	if d <= 0 {
		d = c.opt.DefaultTTL
	}
	d = min(d, c.opt.MaxTTL)
	exp := now.Add(d)
	if !listExp.IsZero() && listExp.Before(exp) {
		exp = listExp
	}
	return exp
}

// issuerKey adapts the KeyFunc to a list signed by issuer.
func (c *Checker) issuerKey(ctx context.Context, issuer, kid string) (crypto.PublicKey, error) {
	if kid == "" {
		return nil, errors.New("the list names no key (kid)")
	}
	if strings.HasPrefix(kid, "#") {
		kid = issuer + kid
	}
	if !strings.HasPrefix(kid, issuer+"#") {
		return nil, errors.New("the list is signed with a key of another party than the credential's issuer")
	}
	return c.keys(ctx, issuer, kid)
}

func (c *Checker) fetchToken(ctx context.Context, uri, issuer string, _ bitstring.Purpose) (*entry, error) {
	body, _, header, err := c.get(ctx, uri, tokenlist.MediaType)
	if err != nil {
		return nil, err
	}
	now := c.opt.Now()
	v, err := tokenlist.VerifyJWT(ctx, strings.TrimSpace(string(body)), uri,
		func(ctx context.Context, _ keys.Algorithm, kid string) (crypto.PublicKey, error) {
			return c.issuerKey(ctx, issuer, kid)
		}, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidList, err)
	}
	if v.Issuer != "" && v.Issuer != issuer {
		return nil, fmt.Errorf("%w: the list's iss is not the credential's issuer", ErrInvalidList)
	}
	return &entry{token: v.List, expires: c.expiry(now, v.TTL, header, v.ExpiresAt)}, nil
}

func (c *Checker) fetchBitstring(ctx context.Context, uri, issuer string, _ bitstring.Purpose) (*entry, error) {
	body, _, header, err := c.get(ctx, uri, "application/vc+jwt")
	if err != nil {
		return nil, err
	}
	now := c.opt.Now()
	tok := strings.TrimSpace(string(body))
	if strings.HasPrefix(tok, "{") {
		return nil, fmt.Errorf("%w: only status list credentials secured as vc+jwt are supported", ErrInvalidList)
	}
	v, err := jwtvc.Verify(ctx, tok, jwtvc.VerifyOptions{
		Key: func(ctx context.Context, iss, kid string, _ time.Time) (crypto.PublicKey, error) {
			if iss != issuer {
				return nil, errors.New("the list's issuer is not the credential's issuer")
			}
			return c.issuerKey(ctx, issuer, kid)
		},
		Now: c.opt.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidList, err)
	}
	if v.Format != jwtvc.VCJWT {
		return nil, fmt.Errorf("%w: a Bitstring Status List credential must be a vc+jwt", ErrInvalidList)
	}
	cred := v.Credential
	if id, ok := cred["id"]; ok && id != uri {
		return nil, fmt.Errorf("%w: the credential's id is not the URL it was fetched from", ErrInvalidList)
	}
	if !hasType(cred["type"], bitstring.CredentialType) {
		return nil, fmt.Errorf("%w: not a %s", ErrInvalidList, bitstring.CredentialType)
	}
	subj, ok := cred["credentialSubject"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: credentialSubject is not an object", ErrInvalidList)
	}
	if subj["type"] != bitstring.SubjectType {
		return nil, fmt.Errorf("%w: credentialSubject.type is not %s", ErrInvalidList, bitstring.SubjectType)
	}
	p, _ := subj["statusPurpose"].(string)
	enc, _ := subj["encodedList"].(string)
	list, err := bitstring.Decode(enc, bitstring.MinEntries, maxBitstringBits)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidList, err)
	}
	var ttl time.Duration
	if t, ok := subj["ttl"]; ok {
		ms, ok := t.(float64)
		if !ok || ms <= 0 || ms > float64(100*365*24*time.Hour/time.Millisecond) {
			return nil, fmt.Errorf("%w: ttl must be a positive number of milliseconds", ErrInvalidList)
		}
		ttl = time.Duration(ms) * time.Millisecond
	}
	return &entry{bits: list, purpose: bitstring.Purpose(p), expires: c.expiry(now, ttl, header, v.ValidUntil)}, nil
}

func hasType(v any, want string) bool {
	switch t := v.(type) {
	case string:
		return t == want
	case []any:
		for _, e := range t {
			if e == want {
				return true
			}
		}
	}
	return false
}
