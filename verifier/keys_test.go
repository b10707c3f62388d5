package verifier_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/medid/medid/did"
	"github.com/medid/medid/verifier"
)

// recordingResolver records the resolutions of one DID; with noHistory it
// refuses a versionTime as did:web does.
type recordingResolver struct {
	r         verifier.DIDResolver
	did       string
	noHistory bool
	// meta, if set, gives the document metadata of did as of a
	// versionTime, as a resolver of a method with versions does.
	meta  func(at time.Time) did.DocumentMetadata
	mu    sync.Mutex
	times []time.Time // the versionTime of each resolution of did
}

func (r *recordingResolver) ResolveDID(ctx context.Context, d did.DID, opts did.ResolutionOptions) (*did.Result, error) {
	if d.String() == r.did {
		r.mu.Lock()
		r.times = append(r.times, opts.VersionTime)
		r.mu.Unlock()
	}
	if r.noHistory && !opts.VersionTime.IsZero() {
		return nil, fmt.Errorf("%w: no versionTime here", did.ErrInvalidOptions)
	}
	res, err := r.r.ResolveDID(ctx, d, opts)
	if err == nil && r.meta != nil && d.String() == r.did {
		cp := *res
		cp.DocumentMetadata = r.meta(opts.VersionTime)
		res = &cp
	}
	return res, err
}

func (r *recordingResolver) resolutions() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.times...)
}

// TestIssuerKeyAsOfIssuance: the issuer's key is looked up in its DID
// document as of the credential's iat, once per credential while cached.
func TestIssuerKeyAsOfIssuance(t *testing.T) {
	rec := &recordingResolver{}
	w := newWorld(t, func(o *verifier.Options) { rec.r = o.Resolver; o.Resolver = rec })
	rec.did = w.issuer.did
	iat := t0.Add(-90 * time.Second)
	sd, _ := w.issueSD(sdOpts{iat: iat, noStatus: true})
	for range 2 {
		p := w.present(sd, nonce, audience, []any{"given_name"})
		if _, err := w.v.VerifyPresentation(ctx, "dc+sd-jwt", jsonString(p), nonce, audience); err != nil {
			t.Fatal(err)
		}
	}
	got := rec.resolutions()
	if len(got) != 1 || !got[0].Equal(iat) {
		t.Fatalf("resolutions of the issuer: %v, want one as of %v", got, iat)
	}
}

// TestIssuerKeyWithoutHistory: once a method refuses a versionTime, its
// keys come from the current document, cached across credentials of
// different iat.
func TestIssuerKeyWithoutHistory(t *testing.T) {
	rec := &recordingResolver{noHistory: true}
	w := newWorld(t, func(o *verifier.Options) { rec.r = o.Resolver; o.Resolver = rec })
	rec.did = w.issuer.did
	for i := range 3 {
		sd, _ := w.issueSD(sdOpts{iat: t0.Add(time.Duration(i) * time.Minute), noStatus: true})
		p := w.present(sd, nonce, audience, []any{"given_name"})
		if _, err := w.v.VerifyPresentation(ctx, "dc+sd-jwt", jsonString(p), nonce, audience); err != nil {
			t.Fatal(err)
		}
	}
	got := rec.resolutions()
	if len(got) != 2 || got[0].IsZero() || !got[1].IsZero() {
		t.Fatalf("resolutions of the issuer: %v, want one refused versionTime, then the current document once", got)
	}
}

// TestIssuerKeyPerVersion: when the resolver tells the span in which a
// document version was the DID's (created or updated, and nextUpdate),
// credentials issued at any time in that span share one resolution; a
// credential issued in the last seconds before the newest version was
// resolved is not taken as covered, and resolves on its own.
func TestIssuerKeyPerVersion(t *testing.T) {
	v1, v2 := t0.Add(-2*time.Hour), t0.Add(-time.Hour) // when the versions were made
	rec := &recordingResolver{meta: func(at time.Time) did.DocumentMetadata {
		if at.Before(v2) {
			return did.DocumentMetadata{Created: &v1, VersionID: "1", NextVersionID: "2", NextUpdate: &v2}
		}
		return did.DocumentMetadata{Created: &v1, Updated: &v2, VersionID: "2"}
	}}
	w := newWorld(t, func(o *verifier.Options) { rec.r = o.Resolver; o.Resolver = rec })
	rec.did = w.issuer.did
	verify := func(iat time.Time) {
		t.Helper()
		sd, _ := w.issueSD(sdOpts{iat: iat, noStatus: true})
		p := w.present(sd, nonce, audience, []any{"given_name"})
		if _, err := w.v.VerifyPresentation(ctx, "dc+sd-jwt", jsonString(p), nonce, audience); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(want ...time.Time) {
		t.Helper()
		got := rec.resolutions()
		if len(got) != len(want) {
			t.Fatalf("resolutions of the issuer as of %v, want as of %v", got, want)
		}
		for i := range got {
			if !got[i].Equal(want[i]) {
				t.Fatalf("resolutions of the issuer as of %v, want as of %v", got, want)
			}
		}
	}
	verify(v1.Add(10 * time.Minute))
	verify(v1.Add(20 * time.Minute)) // version 1 again: cached
	expect(v1.Add(10 * time.Minute))
	verify(v2.Add(5 * time.Minute))
	verify(v2.Add(50 * time.Minute)) // version 2, the newest: cached
	verify(v1.Add(59 * time.Minute)) // still version 1's span
	expect(v1.Add(10*time.Minute), v2.Add(5*time.Minute))
	recent := w.clock.Now().Add(-2 * time.Second).Truncate(time.Second)
	verify(recent) // within the margin before the resolution
	verify(recent) // the same second: cached on its own
	expect(v1.Add(10*time.Minute), v2.Add(5*time.Minute), recent)

	// A resolver that says a newer version exists but not when: each
	// second of issuance resolves on its own, as before.
	rec2 := &recordingResolver{meta: func(time.Time) did.DocumentMetadata {
		return did.DocumentMetadata{Created: &v1, VersionID: "1", NextVersionID: "2"}
	}}
	w = newWorld(t, func(o *verifier.Options) { rec2.r = o.Resolver; o.Resolver = rec2 })
	rec2.did, rec = w.issuer.did, rec2
	verify(v1.Add(time.Minute))
	verify(v1.Add(2 * time.Minute))
	expect(v1.Add(time.Minute), v1.Add(2*time.Minute))
}

// TestVersionlessIssuerKeyOnce: the key of an issuer whose resolution
// names no version (did:jwk here, did:key alike: the document follows
// from the identifier) is resolved once for credentials issued at any
// time, not once per second of issuance.
func TestVersionlessIssuerKeyOnce(t *testing.T) {
	rec := &recordingResolver{}
	w := newWorld(t, func(o *verifier.Options) { rec.r = o.Resolver; o.Resolver = rec })
	rec.did = w.issuer.did
	for _, iat := range []time.Time{t0.Add(-48 * time.Hour), t0.Add(-time.Hour), t0.Add(-3 * time.Second), t0.Add(-time.Second)} {
		sd, _ := w.issueSD(sdOpts{iat: iat, noStatus: true})
		p := w.present(sd, nonce, audience, []any{"given_name"})
		if _, err := w.v.VerifyPresentation(ctx, "dc+sd-jwt", jsonString(p), nonce, audience); err != nil {
			t.Fatal(err)
		}
	}
	if got := rec.resolutions(); len(got) != 1 {
		t.Fatalf("the issuer was resolved %d times (as of %v), want once", len(got), got)
	}
}
