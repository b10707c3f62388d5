package verifier

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/medid/medid/did"
	"github.com/medid/medid/verifier/statuscheck"
)

// Limits and defaults.
const (
	// MaxTokenSize bounds a credential or presentation in bytes.
	MaxTokenSize = 64 << 10
	// DefaultSkew is the clock skew tolerated by default.
	DefaultSkew = 60 * time.Second
	// MaxSkew bounds Options.Skew.
	MaxSkew = 5 * time.Minute
	// DefaultPresentationMaxAge bounds how old a presentation's iat (or a
	// Key Binding JWT's) may be.
	DefaultPresentationMaxAge = 5 * time.Minute
	// DefaultKeyCacheTTL is how long a resolved issuer key is reused.
	DefaultKeyCacheTTL = 5 * time.Minute
)

// UnreachablePolicy says what a status list that cannot be fetched means.
type UnreachablePolicy int

const (
	// FailClosed (the default) fails the status check.
	FailClosed UnreachablePolicy = iota
	// FailOpen passes the status check with status StatusUnknown.
	FailOpen
)

// DIDResolver is the part of *did.Resolver the verifier uses.
type DIDResolver interface {
	ResolveDID(ctx context.Context, d did.DID, opts did.ResolutionOptions) (*did.Result, error)
}

// TrustPolicy decides whether an issuer is trusted for a credential of
// the given types; *trust.Registry implements it. reason explains a "no".
type TrustPolicy interface {
	Trusted(ctx context.Context, issuer string, types []string) (ok bool, reason string, err error)
}

// Options configure a Verifier.
type Options struct {
	// Resolver resolves issuer and holder DIDs. Required.
	Resolver DIDResolver
	// Trust decides issuer_trust. Required.
	Trust TrustPolicy
	// Status configures the status list fetcher (its Now defaults to
	// this Options' Now).
	Status statuscheck.Options
	// StatusUnreachable is the policy for a status list that cannot be
	// fetched; the zero value is FailClosed.
	StatusUnreachable UnreachablePolicy
	// DataIntegrity verifies Data Integrity proofs; nil refuses Data
	// Integrity credentials and presentations with ErrUnsupported.
	DataIntegrity DataIntegrityFunc
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Skew is the tolerated clock difference on every time check; zero
	// means DefaultSkew, and it may not exceed MaxSkew.
	Skew time.Duration
	// PresentationMaxAge bounds the age of a presentation's iat; zero
	// means DefaultPresentationMaxAge.
	PresentationMaxAge time.Duration
	// KeyCacheTTL is how long a resolved key is reused; zero means
	// DefaultKeyCacheTTL, negative disables the cache.
	KeyCacheTTL time.Duration
	// OnResult, if set, is called by the VC-API handlers (see Register)
	// after every verification, passed or failed, before the response is
	// written: for an access log. It runs on the request's goroutine and
	// gets names only, never claim values. If it returns an error the
	// verification was not logged, and the handler answers 503 (problem
	// type unavailable, Retry-After 1) instead of its result: nothing is
	// acted on that the log does not show.
	OnResult func(ctx context.Context, e Event) error
}

// Validate checks o.
func (o Options) Validate() error {
	switch {
	case o.Resolver == nil:
		return errors.New("verifier: Options.Resolver is required")
	case o.Trust == nil:
		return errors.New("verifier: Options.Trust is required")
	case o.Skew < 0 || o.Skew > MaxSkew:
		return fmt.Errorf("verifier: Options.Skew must be between 0 and %s", MaxSkew)
	case o.PresentationMaxAge < 0 || o.PresentationMaxAge > time.Hour:
		return errors.New("verifier: Options.PresentationMaxAge must be between 0 and 1h")
	case o.StatusUnreachable != FailClosed && o.StatusUnreachable != FailOpen:
		return errors.New("verifier: unknown Options.StatusUnreachable")
	}
	return nil
}

// Verifier verifies credentials and presentations. It is safe for
// concurrent use.
type Verifier struct {
	opt    Options
	status *statuscheck.Checker
	keys   *lru.Cache[keyID, cachedKey]
	// spans holds, per key (at zero), the keys resolved as of a time
	// with the span of time in which their document was the DID's:
	// credentials issued at any time in a span share one resolution.
	spans *lru.Cache[keyID, []keySpan]
	// historyless holds the names of the DID methods that refused a
	// versionTime: their keys are looked up in the current document.
	historyless sync.Map
}

// methodOf returns the method name of a DID, or "".
func methodOf(d string) string {
	rest, ok := strings.CutPrefix(d, "did:")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, ":")
	return name
}

type keyID struct {
	controller, kid, rel string
	at                   int64
}

type cachedKey struct {
	pub     crypto.PublicKey
	expires time.Time
	// versionless: asked for the document as of a time, the resolver
	// named no version (did:key, did:jwk: the document follows from the
	// identifier), so the key answers lookups as of any time, cached
	// under at zero.
	versionless bool
}

// versionless reports whether a resolution's metadata names no version:
// the resolver knows one document for the DID, whatever the time.
func versionless(md did.DocumentMetadata) bool {
	return md.Created == nil && md.Updated == nil && md.VersionID == "" && md.NextUpdate == nil && md.NextVersionID == ""
}

// keySpan is a key of a DID document version, with the time the version
// took effect (from) and the time before which it was certainly still in
// effect (until, exclusive).
type keySpan struct {
	pub         crypto.PublicKey
	from, until time.Time
	expires     time.Time
}

// maxSpans bounds the versions kept per key.
const maxSpans = 8

// latestSpanMargin is left out at the end of the span of a version that
// was the newest when resolved: a newer version being registered at that
// moment may carry a time just before it.
const latestSpanMargin = 5 * time.Second

// versionSpan returns the span in which the resolved document was the
// DID's, from its metadata (W3C DID Resolution: updated or created, and
// nextUpdate when a newer version exists), for a resolution made at now;
// ok is false when the metadata does not tell.
func versionSpan(md did.DocumentMetadata, now time.Time) (from, until time.Time, ok bool) {
	switch {
	case md.Updated != nil:
		from = *md.Updated
	case md.Created != nil:
		from = *md.Created
	default:
		return time.Time{}, time.Time{}, false
	}
	switch {
	case md.NextVersionID == "" && md.NextUpdate == nil:
		until = now.Add(-latestSpanMargin)
	case md.NextUpdate != nil:
		until = *md.NextUpdate
	default:
		return time.Time{}, time.Time{}, false
	}
	return from, until, from.Before(until)
}

// spanKey returns the cached key of id (at zero) in effect at at.
func (v *Verifier) spanKey(id keyID, at, now time.Time) (crypto.PublicKey, bool) {
	spans, _ := v.spans.Get(id)
	for _, sp := range spans {
		if !at.Before(sp.from) && at.Before(sp.until) && now.Before(sp.expires) {
			return sp.pub, true
		}
	}
	return nil, false
}

// addSpan caches sp for id (at zero), in place of the spans it overlaps
// and of expired ones, keeping the newest maxSpans.
func (v *Verifier) addSpan(id keyID, sp keySpan, now time.Time) {
	old, _ := v.spans.Get(id)
	spans := make([]keySpan, 0, len(old)+1)
	for _, o := range old {
		if now.Before(o.expires) && (!o.from.Before(sp.until) || !sp.from.Before(o.until)) {
			spans = append(spans, o)
		}
	}
	spans = append(spans, sp)
	if len(spans) > maxSpans {
		spans = spans[len(spans)-maxSpans:]
	}
	v.spans.Add(id, spans)
}

// New returns a Verifier.
func New(o Options) (*Verifier, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Skew == 0 {
		o.Skew = DefaultSkew
	}
	if o.PresentationMaxAge == 0 {
		o.PresentationMaxAge = DefaultPresentationMaxAge
	}
	if o.KeyCacheTTL == 0 {
		o.KeyCacheTTL = DefaultKeyCacheTTL
	}
	if o.Status.Now == nil {
		o.Status.Now = o.Now
	}
	v := &Verifier{opt: o}
	var err error
	if v.keys, err = lru.New[keyID, cachedKey](4096); err != nil {
		return nil, err
	}
	if v.spans, err = lru.New[keyID, []keySpan](1024); err != nil {
		return nil, err
	}
	v.status, err = statuscheck.New(func(ctx context.Context, issuer, kid string) (crypto.PublicKey, error) {
		return v.key(ctx, issuer, kid, did.AssertionMethod, time.Time{})
	}, o.Status)
	if err != nil {
		return nil, err
	}
	return v, nil
}

func (v *Verifier) now() time.Time { return v.opt.Now() }

// key returns the public key of verification method kid of controller,
// authorised for relationship rel in the controller's DID document as of
// at (zero: the current document). kid may be absolute, a "#fragment", or
// empty when the document authorises exactly one method for rel.
func (v *Verifier) key(ctx context.Context, controller, kid, rel string, at time.Time) (crypto.PublicKey, error) {
	if !at.IsZero() {
		if _, ok := v.historyless.Load(methodOf(controller)); ok {
			at = time.Time{} // the current document is all there is
		}
	}
	if strings.HasPrefix(kid, "#") {
		kid = controller + kid
	}
	if kid != "" && (!strings.HasPrefix(kid, controller) || !strings.HasPrefix(kid[len(controller):], "#")) {
		return nil, errors.New("the key id is not a verification method of the signer's DID")
	}
	id := keyID{controller: controller, kid: kid, rel: rel}
	span := id // the key's spans are cached under at zero
	if !at.IsZero() {
		id.at = at.Unix()
	}
	now := v.now()
	if v.opt.KeyCacheTTL > 0 {
		// Only a key of a controller that parsed is cached.
		if c, ok := v.keys.Get(id); ok && now.Before(c.expires) {
			return c.pub, nil
		}
		if !at.IsZero() {
			if c, ok := v.keys.Get(span); ok && c.versionless && now.Before(c.expires) {
				return c.pub, nil
			}
			if pub, ok := v.spanKey(span, at, now); ok {
				return pub, nil
			}
		}
	}
	d, err := did.Parse(controller)
	if err != nil {
		return nil, fmt.Errorf("%.100q is not a DID", controller)
	}
	opts := did.ResolutionOptions{}
	if !at.IsZero() {
		opts.VersionTime = at
	}
	res, err := v.opt.Resolver.ResolveDID(ctx, d, opts)
	if errors.Is(err, did.ErrInvalidOptions) && !at.IsZero() {
		// The method keeps no history (did:web): the current document
		// is all there is, for this DID and the method's others.
		v.historyless.Store(d.Method(), true)
		id.at = 0
		res, err = v.opt.Resolver.ResolveDID(ctx, d, did.ResolutionOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %v", d.Method(), err)
	}
	if res.DocumentMetadata.Deactivated || res.Document == nil {
		return nil, errors.New("the DID is deactivated")
	}
	doc := res.Document
	if kid == "" {
		var only []string
		for _, vm := range doc.VerificationMethod {
			if doc.Authorized(rel, vm.ID) {
				only = append(only, vm.ID)
			}
		}
		if len(only) != 1 {
			return nil, errors.New("no key id, and the DID does not have exactly one " + rel + " key")
		}
		kid = only[0]
	}
	vm, ok := doc.VerificationMethodByID(kid)
	if !ok {
		return nil, errors.New("the DID document has no such verification method")
	}
	if !doc.Authorized(rel, vm.ID) {
		return nil, errors.New("the verification method is not authorised for " + rel)
	}
	pub, err := vm.PublicKey()
	if err != nil {
		return nil, err
	}
	if v.opt.KeyCacheTTL > 0 {
		expires := now.Add(v.opt.KeyCacheTTL)
		if from, until, ok := versionSpan(res.DocumentMetadata, now); ok && id.at != 0 && !at.Before(from) && at.Before(until) {
			v.addSpan(span, keySpan{pub: pub, from: from, until: until, expires: expires}, now)
		} else if id.at != 0 && versionless(res.DocumentMetadata) {
			v.keys.Add(span, cachedKey{pub: pub, expires: expires, versionless: true})
		} else {
			v.keys.Add(id, cachedKey{pub: pub, expires: expires})
		}
	}
	return pub, nil
}

// checklist accumulates the checks of one target.
type checklist struct {
	target string
	checks []Check
	failed bool
}

func newChecklist(target string) *checklist {
	return &checklist{target: target, checks: make([]Check, 0, len(credentialChecks))}
}

func (c *checklist) pass(name CheckName, reason string) {
	c.checks = append(c.checks, Check{Name: name, Target: c.target, OK: true, Reason: reason})
}

func (c *checklist) na(name CheckName, reason string) {
	c.checks = append(c.checks, Check{Name: name, Target: c.target, OK: true, Skipped: true, Reason: reason})
}

func (c *checklist) fail(name CheckName, reason string) {
	c.failed = true
	c.checks = append(c.checks, Check{Name: name, Target: c.target, OK: false, Reason: reason})
}

// skipRest marks every check in names that has no outcome yet as not
// reached.
func (c *checklist) skipRest(names []CheckName) {
	for _, n := range names {
		if !c.has(n) {
			c.checks = append(c.checks, Check{Name: n, Target: c.target, OK: false, Skipped: true, Reason: "not checked: an earlier check failed"})
		}
	}
}

func (c *checklist) has(name CheckName) bool {
	for _, ch := range c.checks {
		if ch.Name == name {
			return true
		}
	}
	return false
}

// fmtTime formats a time for a reason.
func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// validityReason describes a passed validity check.
func validityReason(from, until time.Time) string {
	switch {
	case from.IsZero() && until.IsZero():
		return "no validity period"
	case until.IsZero():
		return "valid from " + fmtTime(from)
	case from.IsZero():
		return "valid until " + fmtTime(until)
	}
	return "valid from " + fmtTime(from) + " until " + fmtTime(until)
}

// maxNumericDate is the last second of year 9999, the latest NumericDate
// the verifier reads.
const maxNumericDate = 253402300799

// numericDate reads a JWT NumericDate decoded as json.Number or float64.
func numericDate(v any) (time.Time, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(x), 64); err != nil {
			return time.Time{}, false
		}
	default:
		return time.Time{}, false
	}
	if f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0).UTC(), true
}
