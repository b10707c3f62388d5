package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/did"
	"github.com/medid/medid/did/didjwk"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/verifier"
	"github.com/medid/medid/verifier/audit"
	"github.com/medid/medid/verifier/openid4vp"
	"github.com/medid/medid/verifier/statuscheck"
	"github.com/medid/medid/verifier/trust"
)

// openVerifier builds the verification core, the trusted issuer lists and
// the OpenID4VP sessions service. It runs after the resolver exists.
func (a *App) openVerifier(ctx context.Context, mk keys.MasterKey, opts Options) error {
	a.Trust = trust.New(a.Store, nil)
	if err := a.seedTrust(ctx); err != nil {
		return fmt.Errorf("trusted issuers: %w", err)
	}
	v, err := verifier.New(verifier.Options{
		Resolver:      a.Resolver,
		Trust:         a.Trust,
		Status:        statuscheck.Options{AllowHTTP: strings.HasPrefix(a.Config.BaseURL, "http://")},
		DataIntegrity: a.dataIntegrityVerifier(),
		OnResult:      a.recordVCAPI,
	})
	if err != nil {
		return err
	}
	a.Verifier = v
	sealer, err := keys.NewSealer(mk, "verifier sessions")
	if err != nil {
		return err
	}
	x509, err := a.verifierX509()
	if err != nil {
		return err
	}
	info, err := loadVerifierInfo(a.Config.VerifierInfo)
	if err != nil {
		return err
	}
	webhooks := opts.WebhookClient
	if webhooks == nil {
		webhooks = &http.Client{Timeout: 10 * time.Second}
	}
	a.Presentations, err = openid4vp.New(a.Store, sealer, openid4vp.Options{
		BaseURL:       a.Config.BaseURL,
		ClientName:    "medid verifier",
		DID:           a.ServerDID,
		Signer:        serverSigner{a},
		Verifier:      presentationVerifier{v, a},
		Queries:       openid4vp.DCQL{IssuerBaseURL: a.Config.BaseURL},
		RedirectURI:   a.Config.VerifierRedirectURI,
		X509:          x509,
		VerifierInfo:  info,
		Logger:        a.Log,
		HTTPClient:    webhooks,
		WebhookSecret: []byte(a.webhookSecret),
	})
	if err != nil {
		return err
	}
	a.closers = append(a.closers, func() error { a.Presentations.Close(); return nil })
	return nil
}

// verifierX509 loads the configured certificate chain for the
// x509_san_dns prefix; its leaf must name the base URL's host.
func (a *App) verifierX509() (*openid4vp.X509Signer, error) {
	if a.Config.VerifierX509Chain == "" {
		return nil, nil
	}
	chain, err := os.ReadFile(a.Config.VerifierX509Chain)
	if err != nil {
		return nil, err
	}
	key, err := os.ReadFile(a.Config.VerifierX509Key)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(a.Config.BaseURL)
	if err != nil {
		return nil, err
	}
	return openid4vp.NewX509Signer(chain, key, u.Hostname())
}

// seedTrust trusts this server's issuer DID for medid's own credential
// types (by vct and by VC type name) when no list exists for them yet, so
// that a fresh server verifies what it issues. Administrators change the
// lists through /verifier/trusted-issuers; a list they set is never
// overwritten.
func (a *App) seedTrust(ctx context.Context) error {
	issuers := []string{a.IssuerDID}
	if a.ServerDID != a.IssuerDID {
		issuers = append(issuers, a.ServerDID)
	}
	for _, t := range health.Types() {
		for _, typ := range []string{t.VCT(a.Config.BaseURL), t.Name} {
			_, err := a.Trust.Get(ctx, typ)
			if err == nil {
				continue
			}
			if !errors.Is(err, trust.ErrNotFound) {
				return err
			}
			if _, err := a.Trust.Set(ctx, typ, issuers); err != nil {
				return err
			}
		}
	}
	return nil
}

// serverSigner signs OpenID4VP request objects with the current ES256
// assertion key of the server's own DID.
type serverSigner struct{ a *App }

func (s serverSigner) key(ctx context.Context) (openid4vp.KeySigner, error) {
	k, err := s.a.keyFor(ctx, s.a.ServerDID, keys.ES256)
	if err != nil {
		return openid4vp.KeySigner{}, err
	}
	return openid4vp.KeySigner{Key: k.Key, KID: k.KID}, nil
}

func (s serverSigner) KeyID() string {
	k, err := s.key(context.Background())
	if err != nil {
		return ""
	}
	return k.KeyID()
}

func (s serverSigner) Alg() string { return "ES256" }

func (s serverSigner) Sign(ctx context.Context, in []byte) ([]byte, error) {
	k, err := s.key(ctx)
	if err != nil {
		return nil, err
	}
	return k.Sign(ctx, in)
}

// presentationVerifier adapts the verification core to openid4vp, and
// puts every verification on the access log.
type presentationVerifier struct {
	v *verifier.Verifier
	a *App
}

func (p presentationVerifier) VerifyPresentation(ctx context.Context, format string, raw json.RawMessage, nonce, audience string) (*openid4vp.VerifiedPresentation, error) {
	vp, err := p.v.VerifyPresentation(ctx, format, raw, nonce, audience)
	if lerr := p.record(ctx, vp, err); lerr != nil && err == nil {
		// Nothing is accepted that the patient's access log does not show.
		return nil, fmt.Errorf("the presentation verified but could not be recorded on the access log, so it is not accepted: %w", lerr)
	}
	var ve *verifier.VerificationError
	if errors.As(err, &ve) {
		return nil, failedPresentation{err: err, checks: sessionChecks(ve.Checks)}
	}
	if err != nil {
		return nil, err
	}
	out := &openid4vp.VerifiedPresentation{Format: string(vp.Format()), HolderBinding: true, Claims: map[string]any{}}
	creds := vp.Credentials()
	if len(creds) == 1 {
		out.Issuer, out.Claims = creds[0].Issuer(), withTypes(creds[0])
		// The holder's key, checked by holder binding: the OpenID provider
		// derives the patient's pairwise subject from it.
		if _, ok := out.Claims["cnf"]; !ok && vp.HolderKey() != nil {
			if jwk, err := keys.PublicJWKJSONOf(vp.HolderKey()); err == nil {
				out.Claims["cnf"] = map[string]any{"jwk": json.RawMessage(jwk)}
			}
		}
	} else {
		list := make([]any, 0, len(creds))
		for _, c := range creds {
			list = append(list, withTypes(c))
		}
		out.Claims["verifiableCredential"] = list
	}
	out.Checks = sessionChecks(vp.Checks())
	return out, nil
}

// failedPresentation carries the checks of a presentation that did not
// verify into the session's error (openid4vp.FailedChecks).
type failedPresentation struct {
	err    error
	checks []openid4vp.Check
}

func (f failedPresentation) Error() string                   { return f.err.Error() }
func (f failedPresentation) Unwrap() error                   { return f.err }
func (f failedPresentation) FailedChecks() []openid4vp.Check { return f.checks }

func sessionChecks(cs []verifier.Check) []openid4vp.Check {
	out := make([]openid4vp.Check, 0, len(cs))
	for _, c := range cs {
		out = append(out, openid4vp.Check{Name: string(c.Name), Passed: c.OK, Detail: c.Reason})
	}
	return out
}

// withTypes is a credential's disclosed claims with its type, as DCQL
// matches it: vct for an SD-JWT VC, type for a W3C VC.
func withTypes(c *verifier.Verified) map[string]any {
	claims := c.Claims()
	if claims == nil {
		claims = map[string]any{}
	}
	types := c.Types()
	if len(types) == 0 {
		return claims
	}
	if c.Format() == verifier.FormatSDJWTVC {
		if _, ok := claims["vct"]; !ok {
			claims["vct"] = types[0]
		}
		return claims
	}
	if _, ok := claims["type"]; !ok {
		list := make([]any, len(types))
		for i, t := range types {
			list[i] = t
		}
		claims["type"] = list
	}
	return claims
}

// record logs one presentation's verification: who asked (this verifier),
// the patient (the holder's DID, or the did:jwk of the key it proved), the
// credential types and the names of the disclosed claims, and the outcome.
// Only a presentation that parsed names a patient. An error means the
// entry could not be stored: a verified presentation is then discarded.
func (p presentationVerifier) record(ctx context.Context, vp *verifier.VerifiedPresentation, verr error) error {
	if p.a.Audit == nil {
		return nil
	}
	e := audit.Entry{Kind: audit.KindVerification, Verifier: p.a.ServerDID, Outcome: audit.OutcomeVerified}
	if verr != nil {
		e.Outcome = audit.OutcomeFailed
		var ve *verifier.VerificationError
		if errors.As(verr, &ve) {
			for _, n := range ve.FailedNames() {
				e.Reasons = append(e.Reasons, string(n))
			}
		} else {
			e.Reasons = []string{"malformed"}
		}
	} else {
		if d, err := did.Parse(vp.Holder()); err == nil {
			e.PatientDID = d
		} else if vp.HolderKey() != nil {
			if jwk, err := keys.PublicJWKJSONOf(vp.HolderKey()); err == nil {
				if d, err := didjwk.New(jwk); err == nil {
					e.PatientDID = d
				}
			}
		}
		for _, c := range vp.Credentials() {
			e.CredentialTypes = append(e.CredentialTypes, c.Types()...)
			e.ClaimNames = append(e.ClaimNames, c.ClaimNames()...)
		}
		e.CredentialTypes, e.ClaimNames = audit.Names(e.CredentialTypes), audit.Names(e.ClaimNames)
	}
	if _, err := p.a.Audit.Log(ctx, e); err != nil {
		p.a.Log.ErrorContext(ctx, "access log: could not record a verification; the presentation is not accepted", "err", err)
		return err
	}
	return nil
}

// recordVCAPI logs one VC-API verification (POST /credentials/verify or
// /presentations/verify) on the access log, as record does for OpenID4VP:
// kind verification, the holder's or subject's DID when the checks passed,
// the credential types and claim names, and the failed checks (or why
// none could run). The entry is stored before the answer goes out; its
// commitment reaches the ledger in the background (audit.Service.Log).
// When it cannot be stored the error makes the handler answer 503, not
// the result. The access log is opened after the verifier, so it is
// looked up per call.
func (a *App) recordVCAPI(ctx context.Context, ev verifier.Event) error {
	if a.Audit == nil {
		return nil
	}
	e := audit.Entry{Kind: audit.KindVerification, Verifier: a.ServerDID, Outcome: audit.OutcomeVerified,
		PatientDID: ev.Patient, CredentialTypes: audit.Names(ev.CredentialTypes), ClaimNames: audit.Names(ev.ClaimNames)}
	if !ev.Verified {
		e.Outcome = audit.OutcomeFailed
		for _, n := range ev.Failed {
			e.Reasons = append(e.Reasons, string(n))
		}
		if ev.Reason != "" {
			e.Reasons = append(e.Reasons, ev.Reason)
		}
	}
	if _, err := a.Audit.Log(ctx, e); err != nil {
		a.Log.ErrorContext(ctx, "access log: could not record a VC-API verification; answered 503", "err", err)
		return err
	}
	return nil
}

// loadVerifierInfo reads the --verifier-info file: a JSON array of
// verifier_info objects (or one object), each with a format and the
// attestation as data (a string, or an object for JSON formats).
func loadVerifierInfo(path string) ([]openid4vp.VerifierInfo, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--verifier-info: %w", err)
	}
	if len(b) > 256<<10 {
		return nil, fmt.Errorf("--verifier-info %s: larger than 256 KiB", path)
	}
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		b = append(append([]byte{'['}, b...), ']')
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("--verifier-info %s: want a JSON array of {format, data} objects: %v", path, err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("--verifier-info %s: no attestation in the file", path)
	}
	out := make([]openid4vp.VerifierInfo, len(raw))
	for i, m := range raw {
		for k := range m {
			if k != "format" && k != "data" && k != "credential_ids" {
				return nil, fmt.Errorf("--verifier-info %s: entry %d: unknown member %q", path, i, k)
			}
		}
		vi := &out[i]
		if err := json.Unmarshal(m["format"], &vi.Format); err != nil || vi.Format == "" {
			return nil, fmt.Errorf("--verifier-info %s: entry %d: format must be a non-empty string", path, i)
		}
		d := bytes.TrimSpace(m["data"])
		if len(d) == 0 || (d[0] != '"' && d[0] != '{') || string(d) == `""` {
			return nil, fmt.Errorf("--verifier-info %s: entry %d: data must be a non-empty string or an object", path, i)
		}
		vi.Data = d
		if ids, ok := m["credential_ids"]; ok {
			if err := json.Unmarshal(ids, &vi.CredentialIDs); err != nil || len(vi.CredentialIDs) == 0 || slices.Contains(vi.CredentialIDs, "") {
				return nil, fmt.Errorf("--verifier-info %s: entry %d: credential_ids must be a non-empty array of non-empty strings", path, i)
			}
		}
	}
	return out, nil
}
