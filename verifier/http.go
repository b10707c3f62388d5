package verifier

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/did"
	"github.com/medid/medid/did/didjwk"
	"github.com/medid/medid/internal/httpx"
)

// VerifyCredentialRequest is the VC-API body of POST /credentials/verify.
type VerifyCredentialRequest struct {
	VerifiableCredential json.RawMessage `json:"verifiableCredential"`
	Options              struct{}        `json:"options"`
}

// VerifyPresentationRequest is the VC-API body of POST
// /presentations/verify.
type VerifyPresentationRequest struct {
	VerifiablePresentation json.RawMessage `json:"verifiablePresentation"`
	Options                struct {
		Challenge string `json:"challenge"`
		Domain    string `json:"domain"`
	} `json:"options"`
}

// verificationProblem is the problem+json body of a failed verification:
// RFC 9457 with the extension member checks.
type verificationProblem struct {
	httpx.Problem
	Checks []Check `json:"checks"`
}

// Register adds the W3C VC-API verification endpoints, behind admin:
//
//	POST /credentials/verify    {"verifiableCredential": …, "options": {}}
//	POST /presentations/verify  {"verifiablePresentation": …, "options": {"challenge", "domain"}}
//
// Both answer 200 {"verified": true, "checks": […], …} when every check
// passed, 422 problem+json (type …#verification-failed) with the checks
// in the extension member "checks" when one failed, 400 for a malformed
// request or credential, 413 for a body over 64 KB and 422
// (#unsupported-format) for a format the server does not verify.
//
// Every verification they run, passed or failed, is reported to
// Options.OnResult (a request refused before verification, such as a
// body that is not JSON or a missing challenge, is not); when it cannot
// be logged they answer 503 instead.
func (v *Verifier) Register(g *echo.Group, admin echo.MiddlewareFunc) {
	g.POST("/credentials/verify", func(c echo.Context) error {
		var req VerifyCredentialRequest
		if err := httpx.DecodeJSON(c.Request(), httpx.MaxJSONBody, &req); err != nil {
			return err
		}
		if len(req.VerifiableCredential) == 0 {
			return httpx.BadRequest("verifiableCredential", "verifiableCredential is required")
		}
		vc, err := v.VerifyCredential(c.Request().Context(), req.VerifiableCredential)
		if lerr := v.report(c.Request().Context(), credentialEvent(vc, err)); lerr != nil {
			return lerr
		}
		if err != nil {
			return renderFailure(c, "verifiableCredential", err)
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return writeJSON(c, credentialVerified{Checks: vc.checks, Credential: vc.view(), Verified: true})
	}, admin)
	g.POST("/presentations/verify", func(c echo.Context) error {
		var req VerifyPresentationRequest
		if err := httpx.DecodeJSON(c.Request(), httpx.MaxJSONBody, &req); err != nil {
			return err
		}
		switch {
		case len(req.VerifiablePresentation) == 0:
			return httpx.BadRequest("verifiablePresentation", "verifiablePresentation is required")
		case req.Options.Challenge == "":
			return httpx.BadRequest("options.challenge", "options.challenge is required: presentations are bound to a challenge")
		case req.Options.Domain == "":
			return httpx.BadRequest("options.domain", "options.domain is required: presentations are bound to a domain")
		}
		vp, err := v.VerifyPresentation(c.Request().Context(), "", req.VerifiablePresentation, req.Options.Challenge, req.Options.Domain)
		if lerr := v.report(c.Request().Context(), presentationEvent(vp, err)); lerr != nil {
			return lerr
		}
		if err != nil {
			return renderFailure(c, "verifiablePresentation", err)
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return writeJSON(c, presentationVerified{Checks: vp.checks, Presentation: vp.view(), Verified: true})
	}, admin)
}

// credentialVerified and presentationVerified are the 200 answers of the
// verify routes (members in name order, as they were when these were
// maps).
type credentialVerified struct {
	Checks     []Check      `json:"checks"`
	Credential verifiedJSON `json:"credential"`
	Verified   bool         `json:"verified"`
}

type presentationVerified struct {
	Checks       []Check          `json:"checks"`
	Presentation presentationJSON `json:"presentation"`
	Verified     bool             `json:"verified"`
}

// writeJSON answers 200 with v as JSON, marshalled once (echo's c.JSON
// goes through an Encoder that re-scans the bytes of every MarshalJSON
// inside), and ended by a newline as c.JSON ends it.
func writeJSON(c echo.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, append(b, '\n'))
}

// renderFailure maps a verification error to its response.
func renderFailure(c echo.Context, field string, err error) error {
	var ve *VerificationError
	switch {
	case errors.As(err, &ve):
		names := make([]string, 0, 4)
		for _, n := range ve.FailedNames() {
			names = append(names, string(n))
		}
		p := verificationProblem{
			Problem: httpx.Problem{Type: httpx.ProblemBase + "verification-failed", Title: "Verification failed",
				Status: http.StatusUnprocessableEntity, Detail: "failed checks: " + strings.Join(names, ", "),
				RequestID: c.Response().Header().Get(echo.HeaderXRequestID)},
			Checks: ve.Checks,
		}
		h := c.Response().Header()
		h.Set("Content-Type", httpx.ContentTypeProblem)
		h.Set("Cache-Control", "no-store")
		c.Response().WriteHeader(p.Status)
		return json.NewEncoder(c.Response()).Encode(p)
	case errors.Is(err, ErrTooLarge):
		return &httpx.Error{Status: http.StatusRequestEntityTooLarge, Kind: "too-large", Detail: err.Error(), Field: field}
	case errors.Is(err, ErrUnsupported):
		return httpx.Unprocessable("unsupported-format", field, err.Error())
	case errors.Is(err, ErrMalformed):
		return httpx.BadRequest(field, err.Error())
	}
	return err
}

// Event is what Options.OnResult learns of one VC-API verification: the
// outcome and what it concerned, by name. It never holds claim values.
type Event struct {
	// Presentation is true for POST /presentations/verify, false for POST
	// /credentials/verify.
	Presentation bool
	// Verified is true when every check passed.
	Verified bool
	// Failed names the checks that ran and failed, in order, without
	// repeats (empty when verified, or when no check could run).
	Failed []CheckName
	// Reason says why no check could run: "malformed", "too_large" or
	// "unsupported" for input the verifier cannot check, "error" for
	// any other failure; "" when the checks ran.
	Reason string
	// CredentialTypes are the types of the verified credentials, and
	// ClaimNames the names of the top-level claims they revealed (for an
	// SD-JWT VC, the always-visible and the disclosed ones); sorted,
	// without repeats; nil unless Verified.
	CredentialTypes []string
	ClaimNames      []string
	// Patient is the holder's or subject's DID when known: for a
	// presentation, the presenter's DID or the did:jwk of the key that
	// proved possession; for a credential, its subject when that is a
	// DID, or else the did:jwk of the key it is bound to (cnf). Zero
	// unless Verified, or when the credential names neither.
	Patient did.DID
}

// report hands e to Options.OnResult, if set, and turns its failure into
// the answer.
func (v *Verifier) report(ctx context.Context, e Event) error {
	if v.opt.OnResult == nil {
		return nil
	}
	if err := v.opt.OnResult(ctx, e); err != nil {
		return httpx.Unavailable("the verification could not be logged; retry", 1, err)
	}
	return nil
}

// credentialEvent describes the outcome of VerifyCredential.
func credentialEvent(vc *Verified, err error) Event {
	if err != nil {
		return failedEvent(false, err)
	}
	e := Event{Verified: true, CredentialTypes: vc.Types(), ClaimNames: vc.ClaimNames(),
		Patient: didOrJWK(vc.Subject(), vc.Holder())}
	e.CredentialTypes = sortedSet(e.CredentialTypes)
	return e
}

// presentationEvent describes the outcome of VerifyPresentation.
func presentationEvent(vp *VerifiedPresentation, err error) Event {
	if err != nil {
		return failedEvent(true, err)
	}
	e := Event{Presentation: true, Verified: true, Patient: didOrJWK(vp.Holder(), vp.HolderKey())}
	for _, c := range vp.credentials {
		e.CredentialTypes = append(e.CredentialTypes, c.types...)
		e.ClaimNames = append(e.ClaimNames, c.ClaimNames()...)
	}
	e.CredentialTypes, e.ClaimNames = sortedSet(e.CredentialTypes), sortedSet(e.ClaimNames)
	return e
}

func failedEvent(presentation bool, err error) Event {
	e := Event{Presentation: presentation}
	var ve *VerificationError
	switch {
	case errors.As(err, &ve):
		e.Failed = ve.FailedNames()
	case errors.Is(err, ErrTooLarge):
		e.Reason = "too_large"
	case errors.Is(err, ErrUnsupported):
		e.Reason = "unsupported"
	case errors.Is(err, ErrMalformed):
		e.Reason = "malformed"
	default:
		e.Reason = "error"
	}
	return e
}

// didOrJWK is id when it is a DID, otherwise the did:jwk of key; zero
// when neither gives one.
func didOrJWK(id string, key crypto.PublicKey) did.DID {
	if d, err := did.Parse(id); err == nil {
		return d
	}
	if key == nil {
		return did.DID{}
	}
	d, err := didjwk.FromPublicKey(key)
	if err != nil {
		return did.DID{}
	}
	return d
}

func sortedSet(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	l = slices.Clone(l)
	slices.Sort(l)
	return slices.Compact(l)
}
