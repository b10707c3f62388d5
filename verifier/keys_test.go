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
	mu        sync.Mutex
	times     []time.Time // the versionTime of each resolution of did
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
	return r.r.ResolveDID(ctx, d, opts)
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
