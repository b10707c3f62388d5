package access

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/verifier/audit"
)

// Check is one named verification check as the verification core reports
// it: signature, validity, status, schema, issuer_trust, holder_binding.
type Check struct {
	Name    string
	Passed  bool
	Skipped bool
	// Detail explains the outcome; for a failed status check it says
	// "revoked" or "suspended" when that is why.
	Detail string
}

// Presented is one verified credential of a presentation.
type Presented struct {
	// Format is the credential's format (dc+sd-jwt, jwt_vc_json, …).
	Format string
	// Types are the credential's types: the vct of an SD-JWT VC, the
	// types of a W3C VC.
	Types []string
	// Issuer is the issuer's DID.
	Issuer string
	// Claims are the disclosed claims (for a W3C VC, the
	// credentialSubject's). Envelope claims (iss, vct, cnf, status, …)
	// may be present; they are ignored.
	Claims map[string]any
	// Holder is the DID of the presenter, when the presentation was signed
	// by a DID (a JWT VP, a Data Integrity VP); "" otherwise.
	Holder string
	// HolderKey is the key that proved possession for the nonce and
	// audience (an SD-JWT VC's cnf.jwk with a Key Binding JWT), or nil.
	HolderKey crypto.PublicKey
	// Checks are the checks the credential went through.
	Checks []Check
}

// VerificationError is what a PresentationVerifier returns when a check
// failed: every check, in order.
type VerificationError struct {
	Checks []Check
}

func (e *VerificationError) Error() string {
	return "access: verification failed: " + strings.Join(failedNames(e.Checks), ", ")
}

// ErrMalformedPresentation is wrapped by a PresentationVerifier's error
// for input that is not a presentation it can check at all.
var ErrMalformedPresentation = errors.New("access: malformed presentation")

// PresentationVerifier verifies a presentation bound to nonce and audience
// and returns its verified credentials, a *VerificationError when a check
// failed, or an error wrapping ErrMalformedPresentation. The lead adapts
// the verification core (verifier.Verifier.VerifyPresentation) to it.
type PresentationVerifier interface {
	VerifyPresentation(ctx context.Context, format string, presentation json.RawMessage, nonce, audience string) ([]Presented, error)
}

// Session states, as the OpenID4VP sessions report them.
const (
	SessionPending  = "pending"
	SessionVerified = "verified"
	SessionFailed   = "failed"
	SessionExpired  = "expired"
)

// SessionResult is the state of an OpenID4VP session.
type SessionResult struct {
	// Status is one of the Session… states.
	Status string
	// Credentials are the verified credentials, when Status is verified.
	Credentials []Presented
	// Checks are the checks, when Status is failed and they are known.
	Checks []Check
}

// ErrSessionNotFound is returned by SessionResults for an unknown session.
var ErrSessionNotFound = errors.New("access: no such session")

// SessionResults gives the result of an OpenID4VP session (the lead adapts
// openid4vp.Service.Status to it).
type SessionResults interface {
	Result(ctx context.Context, sessionID string) (*SessionResult, error)
}

// HolderKeys tells whether a DID authenticates with a key.
type HolderKeys interface {
	Controls(ctx context.Context, d did.DID, key crypto.PublicKey) (bool, error)
}

// Recorder is the access log (*audit.Service).
type Recorder interface {
	Record(ctx context.Context, e audit.Entry) (audit.Recorded, error)
}

// Reason codes this package adds to health's.
const (
	// ReasonSessionNotFound: the session id names no session.
	ReasonSessionNotFound health.ReasonCode = "session_not_found"
	// ReasonPresenterMismatch: the consent was not presented by the
	// acting party (delegated_by, or else grantee).
	ReasonPresenterMismatch health.ReasonCode = "presenter_mismatch"
	// ReasonVerificationFailed: the presentation failed verification
	// (logged; the answer is a 422).
	ReasonVerificationFailed health.ReasonCode = "verification_failed"
)

// Options configure a Service.
type Options struct {
	// VerifierID names this verifier in the access log (its DID or client
	// id). Required.
	VerifierID string
	// Audience is the audience direct presentations are bound to
	// (normally the verifier's client_id). Required with Presentations.
	Audience string
	// Sessions and Presentations are the two sources of a consent; at
	// least one is required.
	Sessions      SessionResults
	Presentations PresentationVerifier
	// Holders checks an SD-JWT VC's holder key against the acting
	// party's DID. Required.
	Holders HolderKeys
	// AcceptNoStatus lets a consent without a status entry count as
	// valid. Default false: it denies (status_unknown).
	AcceptNoStatus bool
	// NonceTTL is how long a nonce for a direct presentation lives
	// (default 5 minutes).
	NonceTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Service makes access decisions.
type Service struct {
	store kv.Store
	log   Recorder
	opt   Options
}

// New returns a Service keeping nonces in store and logging decisions to
// log.
func New(store kv.Store, log Recorder, opts Options) (*Service, error) {
	switch {
	case store == nil || log == nil:
		return nil, errors.New("access: a store and an access log are required")
	case opts.VerifierID == "":
		return nil, errors.New("access: Options.VerifierID is required")
	case opts.Sessions == nil && opts.Presentations == nil:
		return nil, errors.New("access: Options.Sessions or Options.Presentations is required")
	case opts.Presentations != nil && opts.Audience == "":
		return nil, errors.New("access: Options.Audience is required with Presentations")
	case opts.Holders == nil:
		return nil, errors.New("access: Options.Holders is required")
	}
	if opts.NonceTTL <= 0 {
		opts.NonceTTL = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Service{store: store, log: log, opt: opts}, nil
}

const noncePrefix = "access/nonce/" // sha256(nonce) → "1"; taken by the presentation

// Nonce is a nonce issued for a direct presentation.
type Nonce struct {
	Nonce     string    `json:"nonce"`
	Audience  string    `json:"audience"`
	ExpiresAt time.Time `json:"expires_at"`
}

// NewNonce issues a single-use nonce for a direct presentation.
func (s *Service) NewNonce(ctx context.Context) (*Nonce, error) {
	if s.opt.Presentations == nil {
		return nil, httpx.Unprocessable("unsupported", "", "this server takes consents only through OpenID4VP sessions")
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	n := base64.RawURLEncoding.EncodeToString(b[:])
	if err := s.store.Put(ctx, noncePrefix+hashKey(n), []byte("1"), s.opt.NonceTTL); err != nil {
		return nil, err
	}
	return &Nonce{Nonce: n, Audience: s.opt.Audience, ExpiresAt: s.opt.Now().Add(s.opt.NonceTTL).UTC()}, nil
}

func hashKey(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:])
}

// Reason is one ground of a decision.
type Reason struct {
	Code    health.ReasonCode `json:"code"`
	Message string            `json:"message"`
}

// Decision is an access decision, as logged.
type Decision struct {
	Permit  bool
	Reasons []Reason
	// Audit is the decision's access log entry.
	Audit audit.Recorded
}

// Decide answers req: it gets the verified consent, decides and logs the
// decision. Errors are *httpx.Error for the client (409 for a session not
// finished, 422 for a consent that did not verify or is missing) or
// internal.
func (s *Service) Decide(ctx context.Context, req *DecisionRequest) (*Decision, error) {
	now := s.opt.Now()
	creds, deny, err := s.consent(ctx, req)
	if err != nil {
		return nil, err
	}
	if deny != nil {
		return s.record(ctx, req, nil, deny, false)
	}
	var consents []Presented
	for _, c := range creds {
		if isConsent(c.Types) {
			consents = append(consents, c)
		}
	}
	switch len(consents) {
	case 0:
		return nil, httpx.Unprocessable("no-consent", "", "the presentation holds no HealthConsentCredential")
	case 1:
	default:
		return nil, httpx.Unprocessable("several-consents", "", "the presentation holds more than one HealthConsentCredential; present one")
	}
	pc := consents[0]
	claims := consentClaims(pc.Claims)

	var reasons []Reason
	patient, _ := claims["patient"].(string)
	presenterOK, err := s.presentedBy(ctx, pc, req.Request, patient)
	if err != nil {
		s.opt.Logger.WarnContext(ctx, "access: the presenter's DID could not be checked", "error", err)
	}
	if !presenterOK {
		reasons = append(reasons, Reason{ReasonPresenterMismatch, "the consent was not presented by the party acting on it"})
	}

	decoded, err := health.DecodeAt(health.TypeHealthConsent, claims, now)
	if err != nil {
		var fields []string
		var ves health.ValidationErrors
		if errors.As(err, &ves) {
			fields = ves.Fields()
		}
		reasons = append(reasons, Reason{health.ReasonInvalidConsent, "the consent's claims are not valid: " + strings.Join(fields, ", ")})
		return s.record(ctx, req, claims, reasons, false)
	}
	consent := decoded.(*health.HealthConsentCredential)
	r := req.Request
	d := health.Decide(*consent, health.AccessRequest{
		Patient: r.Patient, Presenter: r.Grantee, DelegatedBy: r.DelegatedBy, ResourceType: r.ResourceType,
		Interaction: r.Interaction, Params: r.Params, Purpose: r.Purpose, Labels: r.Labels, Time: r.Time,
		ConsentStatus: consentStatus(pc.Checks, s.opt.AcceptNoStatus),
	}, now)
	permit := d.Permit && presenterOK
	if d.Permit && !presenterOK {
		return s.record(ctx, req, claims, reasons, false)
	}
	for _, x := range d.Reasons {
		reasons = append(reasons, Reason{x.Code, x.Message})
	}
	return s.record(ctx, req, claims, reasons, permit)
}

// consent gets the presented credentials, or a denial (a reason list) for
// an unknown session or a revoked or suspended consent.
func (s *Service) consent(ctx context.Context, req *DecisionRequest) ([]Presented, []Reason, error) {
	if req.SessionID != "" {
		if s.opt.Sessions == nil {
			return nil, nil, httpx.Unprocessable("unsupported", "session_id", "this server takes consents only as direct presentations")
		}
		res, err := s.opt.Sessions.Result(ctx, req.SessionID)
		if errors.Is(err, ErrSessionNotFound) {
			return nil, []Reason{{ReasonSessionNotFound, "no presentation session has this id"}}, nil
		}
		if err != nil {
			return nil, nil, err
		}
		switch res.Status {
		case SessionVerified:
			return res.Credentials, nil, nil
		case SessionPending:
			return nil, nil, &httpx.Error{Status: http.StatusConflict, Kind: "session-pending", Title: "Session not finished",
				Field: "session_id", Detail: "the session has not received a presentation yet; retry once it is verified"}
		case SessionExpired:
			return nil, nil, &httpx.Error{Status: http.StatusConflict, Kind: "session-expired", Title: "Session expired",
				Field: "session_id", Detail: "the session expired without a presentation; start a new one"}
		case SessionFailed:
			if st, ok := statusOnlyFailure(res.Checks); ok {
				return nil, []Reason{statusReason(st)}, nil
			}
			return nil, nil, &httpx.Error{Status: http.StatusUnprocessableEntity, Kind: "session-failed", Title: "Session failed",
				Field: "session_id", Detail: "the session's presentation did not verify" + failedList(res.Checks)}
		default:
			return nil, nil, fmt.Errorf("access: session status %q", res.Status)
		}
	}
	if s.opt.Presentations == nil {
		return nil, nil, httpx.Unprocessable("unsupported", "presentation", "this server takes consents only through OpenID4VP sessions")
	}
	p := req.Presentation
	if _, err := s.store.Take(ctx, noncePrefix+hashKey(p.Nonce)); err != nil {
		if errors.Is(err, kv.ErrNotFound) {
			return nil, nil, httpx.BadRequest("presentation.nonce", "presentation.nonce is unknown, expired or already used")
		}
		return nil, nil, err
	}
	creds, err := s.opt.Presentations.VerifyPresentation(ctx, p.Format, p.VPToken, p.Nonce, s.opt.Audience)
	var ve *VerificationError
	switch {
	case errors.As(err, &ve):
		if st, ok := statusOnlyFailure(ve.Checks); ok {
			return nil, []Reason{statusReason(st)}, nil
		}
		// Log the attempt, then refuse it.
		if _, lerr := s.record(ctx, req, nil, []Reason{{ReasonVerificationFailed, "the presentation did not verify"}}, false); lerr != nil {
			return nil, nil, lerr
		}
		return nil, nil, httpx.Unprocessable("verification-failed", "presentation.vp_token",
			"the presentation did not verify"+failedList(ve.Checks))
	case errors.Is(err, ErrMalformedPresentation):
		return nil, nil, httpx.BadRequest("presentation.vp_token", "presentation.vp_token is not a presentation this server can verify")
	case err != nil:
		return nil, nil, err
	}
	return creds, nil, nil
}

// presentedBy reports whether the consent was presented by a party
// entitled to present it: its patient (the holder the issuer bound it to,
// whose wallet shows it to the clinic), or the acting party holding it
// (delegated_by if set, the grantee that delegated presenting its consent;
// otherwise the grantee). Whether the party asking for access is the
// consent's grantee is health.Decide's rule, applied separately.
func (s *Service) presentedBy(ctx context.Context, pc Presented, r Request, patient string) (bool, error) {
	actor := r.Grantee
	if !r.DelegatedBy.IsZero() {
		actor = r.DelegatedBy
	}
	parties := []did.DID{actor}
	if p, err := did.Parse(patient); err == nil && p != actor {
		parties = append(parties, p)
	}
	var firstErr error
	for _, party := range parties {
		if pc.Holder != "" {
			if pc.Holder == party.String() {
				return true, nil
			}
			continue
		}
		if pc.HolderKey == nil {
			return false, nil
		}
		ok, err := s.opt.Holders.Controls(ctx, party, pc.HolderKey)
		if ok {
			return true, nil
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return false, firstErr
}

// record logs the decision and returns it. A decision is returned only
// once it is logged.
func (s *Service) record(ctx context.Context, req *DecisionRequest, claims map[string]any, reasons []Reason, permit bool) (*Decision, error) {
	r := req.Request
	e := audit.Entry{
		Kind: audit.KindAccessDecision, Verifier: s.opt.VerifierID, Client: r.Grantee.String(), PatientDID: r.Patient,
		Scopes: []string{"patient/" + r.ResourceType + "." + r.Interaction.String()}, Purpose: string(r.Purpose),
		Outcome: audit.OutcomeDeny, Time: s.opt.Now(),
	}
	if permit {
		e.Outcome = audit.OutcomePermit
	}
	if claims != nil {
		e.CredentialTypes = []string{health.TypeHealthConsent}
		e.ClaimNames = slices.Sorted(maps.Keys(claims))
	}
	for _, x := range reasons {
		e.Reasons = append(e.Reasons, string(x.Code))
	}
	rec, err := s.log.Record(ctx, e)
	if err != nil {
		if errors.Is(err, audit.ErrNotCommitted) {
			return nil, httpx.Unavailable("the decision could not be logged; retry", 1, err)
		}
		return nil, err
	}
	return &Decision{Permit: permit, Reasons: reasons, Audit: rec}, nil
}

// envelope lists the claims of a credential format's envelope, which are
// not the consent's own.
var envelope = []string{"iss", "sub", "iat", "nbf", "exp", "jti", "cnf", "vct", "vct#integrity", "status", "_sd_alg", "id"}

// consentClaims returns the consent's own claims.
func consentClaims(claims map[string]any) map[string]any {
	out := make(map[string]any, len(claims))
	for k, v := range claims {
		if !slices.Contains(envelope, k) {
			out[k] = v
		}
	}
	return out
}

// isConsent reports whether a credential's types name a
// HealthConsentCredential: the type itself, or a vct URL ending in
// "/HealthConsentCredential". Which issuers are trusted for the type is
// the verification core's issuer_trust check.
func isConsent(types []string) bool {
	for _, t := range types {
		if t == health.TypeHealthConsent || strings.HasSuffix(t, "/"+health.TypeHealthConsent) {
			return true
		}
	}
	return false
}

// consentStatus reads the consent's status from the status check.
func consentStatus(checks []Check, acceptNone bool) health.ConsentStatus {
	for _, c := range checks {
		if c.Name != "status" {
			continue
		}
		switch {
		case !c.Passed && !c.Skipped:
			return failedStatus(c.Detail)
		case c.Passed && c.Skipped: // not applicable: no status entry
			if acceptNone {
				return health.ConsentValid
			}
			return ""
		case c.Passed && strings.Contains(c.Detail, "unreachable"):
			return "" // accepted by a fail-open policy: not good enough for access
		case c.Passed && strings.Contains(c.Detail, "no status"):
			// Not applicable, reported by a source that does not carry
			// Skipped (openid4vp's Check): as above.
			if acceptNone {
				return health.ConsentValid
			}
			return ""
		case c.Passed:
			return health.ConsentValid
		}
		return ""
	}
	return ""
}

func failedStatus(detail string) health.ConsentStatus {
	switch {
	case strings.Contains(detail, "revoked"):
		return health.ConsentRevoked
	case strings.Contains(detail, "suspended"):
		return health.ConsentSuspended
	}
	return ""
}

// statusOnlyFailure reports whether the only checks that failed (and ran)
// are status checks saying revoked or suspended.
func statusOnlyFailure(checks []Check) (health.ConsentStatus, bool) {
	var st health.ConsentStatus
	for _, c := range checks {
		// A check not reached because an earlier one failed is Skipped;
		// sources without Skipped (openid4vp's Check) keep the core's
		// reason "not checked: …".
		if c.Passed || c.Skipped || strings.HasPrefix(c.Detail, "not checked") {
			continue
		}
		if c.Name != "status" {
			return "", false
		}
		if st = failedStatus(c.Detail); st == "" {
			return "", false
		}
	}
	return st, st != ""
}

func statusReason(st health.ConsentStatus) Reason {
	if st == health.ConsentSuspended {
		return Reason{health.ReasonSuspended, "the consent is suspended"}
	}
	return Reason{health.ReasonRevoked, "the consent has been revoked"}
}

func failedNames(checks []Check) []string {
	var out []string
	for _, c := range checks {
		if !c.Passed && !c.Skipped && !slices.Contains(out, c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

func failedList(checks []Check) string {
	if n := failedNames(checks); len(n) > 0 {
		return "; failed checks: " + strings.Join(n, ", ")
	}
	return ""
}
