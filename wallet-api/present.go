package walletapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/credentials/dcql"
	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/wallet-api/vpclient"
)

// EventPresentationSent is the history event of a presentation posted to
// a verifier (GET /wallet/presentations has the details).
const EventPresentationSent = "presentation_sent"

// PresentationPreview is what a presentation request asks for, before
// anything is sent: who asks and why, the DCQL query, and for each
// Credential Query the stored credentials that match and the claims each
// would disclose.
type PresentationPreview struct {
	ClientID       string `json:"client_id"`
	ClientIDPrefix string `json:"client_id_prefix"`
	ClientName     string `json:"client_name,omitempty"`
	// SignedBy is the verification method of the verifier's DID that
	// signed the request (decentralized_identifier); empty for an unsigned
	// redirect_uri request, whose client_id is only its response URI.
	SignedBy     string            `json:"signed_by,omitempty"`
	VerifierInfo []json.RawMessage `json:"verifier_info,omitempty"`
	Purpose      string            `json:"purpose,omitempty"`
	ResponseURI  string            `json:"response_uri"`
	ResponseMode string            `json:"response_mode"`
	DCQLQuery    json.RawMessage   `json:"dcql_query"`
	// Credentials has one entry per Credential Query, in query order.
	Credentials []QueryMatches `json:"credentials"`
	// Satisfiable says the wallet holds what the query requires.
	Satisfiable bool `json:"satisfiable"`
}

// QueryMatches are the stored credentials that match one Credential Query.
type QueryMatches struct {
	ID     string `json:"id"`
	Format string `json:"format"`
	// Requested says this query is answered by presenting (false for a
	// query of an optional credential set, or when the query as a whole
	// cannot be satisfied).
	Requested bool                 `json:"requested"`
	Matches   []MatchingCredential `json:"matches"`
}

// MatchingCredential is a stored credential that satisfies a Credential
// Query. Paths are claims path pointers (arrays of names, indexes).
type MatchingCredential struct {
	CredentialID string `json:"credential_id"`
	Name         string `json:"name"`
	Type         string `json:"type,omitempty"`
	Issuer       string `json:"issuer"`
	// Disclose are the claims presented when the patient does not choose:
	// what the query requires (its first satisfiable claim set).
	Disclose []dcql.Path `json:"disclose"`
	// Selectable are all the claims the query may ask of this credential;
	// the patient may choose among them, as long as the choice still
	// satisfies the query.
	Selectable []dcql.Path `json:"selectable"`
	// AlwaysDisclosed names the claims the credential shows to anyone it
	// is presented to (not selectively disclosable).
	AlwaysDisclosed []string `json:"always_disclosed"`
	// SelectiveDisclosure is false for a format that presents every claim
	// (jwt_vc_json, ldp_vc).
	SelectiveDisclosure bool `json:"selective_disclosure"`
	// UnusedCopies is how many copies have never been presented.
	UnusedCopies int `json:"unused_copies"`
}

// PresentRequest is POST /wallet/presentations.
type PresentRequest struct {
	// Request is the openid4vp:// link.
	Request string `json:"request"`
	// Choices are the patient's choices by Credential Query id. A query
	// without one gets its first matching credential with only what it
	// requires.
	Choices map[string]PresentChoice `json:"choices,omitempty"`
}

// PresentChoice is the patient's choice for one Credential Query: which
// credential, and which claims to disclose (omitted: what the query
// requires).
type PresentChoice struct {
	CredentialID string            `json:"credential_id,omitempty"`
	Claims       []json.RawMessage `json:"claims,omitempty"`
}

// PresentationResult is what a presentation sent.
type PresentationResult struct {
	ID         string `json:"id"`
	ClientID   string `json:"client_id"`
	ClientName string `json:"client_name,omitempty"`
	// RedirectURI is where the verifier sends the patient next (same-device
	// flows): the app should open it.
	RedirectURI string                `json:"redirect_uri,omitempty"`
	Presented   []PresentedCredential `json:"presented"`
	// CopyReused is true when some credential had no unused copy left, so
	// an already presented copy was sent again (verifiers could link the
	// two presentations).
	CopyReused bool `json:"copy_reused"`
}

// PresentedCredential is one credential of a presentation.
type PresentedCredential struct {
	QueryID      string      `json:"query_id"`
	CredentialID string      `json:"credential_id"`
	Name         string      `json:"name"`
	Claims       []dcql.Path `json:"claims"`
	CopyReused   bool        `json:"copy_reused"`
	// shown names the claims the credential discloses whatever was
	// chosen (alwaysDisclosed), for the history.
	shown []string
}

// PresentationRecord is a presentation in the wallet's history: to whom,
// when, which credentials and claim names, never values.
type PresentationRecord struct {
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name,omitempty"`
	Purpose    string    `json:"purpose,omitempty"`
	// Outcome is "accepted" or "refused" (the verifier answered with an
	// error after receiving the presentation).
	Outcome     string              `json:"outcome"`
	Credentials []PresentationClaim `json:"credentials"`
}

// PresentationClaim is one credential of a PresentationRecord.
type PresentationClaim struct {
	CredentialID string   `json:"credential_id"`
	Name         string   `json:"name"`
	Claims       []string `json:"claims"`
	CopyReused   bool     `json:"copy_reused,omitempty"`
}

// loadPresentationRequest parses the link, fetches the request object (for
// a request by reference) and checks it. A request that is not signed by
// the verifier it names is refused here, before anything is shown.
func (s *Service) loadPresentationRequest(ctx context.Context, link string) (*vpclient.Request, error) {
	if strings.TrimSpace(link) == "" {
		return nil, fieldErr("request", "the openid4vp:// link is required")
	}
	l, err := vpclient.ParseLink(link)
	if err != nil {
		return nil, requestError(err)
	}
	opts := vpclient.VerifyOptions{Keys: vpclient.DIDKeys(s.resolver), AllowHTTPLoopback: s.opt.AllowHTTPLoopback, Now: s.opt.Now,
		X509Roots: s.opt.X509Roots}
	if l.RequestURI == "" {
		r, err := vpclient.RequestByValue(l, opts)
		if err != nil {
			return nil, requestError(err)
		}
		return r, nil
	}
	if p := l.Prefix(); p != vpclient.PrefixDecentralizedIdentifier && p != vpclient.PrefixX509SANDNS {
		return nil, requestError(fmt.Errorf("%w: client_id prefix %q", vpclient.ErrUnsupported, p))
	}
	fctx, cancel := context.WithTimeout(ctx, s.opt.FetchTimeout)
	defer cancel()
	if l.RequestURIMethod == "post" {
		opts.WalletNonce = randomID(16)
	}
	jwt, err := s.vp().FetchRequestObject(fctx, l, opts.WalletNonce)
	if err != nil {
		return nil, requestError(err)
	}
	r, err := vpclient.VerifyRequestObject(fctx, jwt, l, opts)
	if err != nil {
		return nil, requestError(err)
	}
	return r, nil
}

func (s *Service) vp() *vpclient.Client {
	return &vpclient.Client{HTTP: s.http, AllowHTTPLoopback: s.opt.AllowHTTPLoopback}
}

// requestError maps a vpclient error to what the patient sees.
func requestError(err error) error {
	var ve *vpclient.Error
	detail := func() string { return strings.TrimPrefix(err.Error(), "vpclient: ") }
	switch {
	case errors.Is(err, vpclient.ErrUntrusted):
		return &ServiceError{Status: http.StatusUnprocessableEntity, Kind: "untrusted-verifier", Field: "request",
			Detail: "the request is not signed by the verifier it names; nothing was shown or sent", Cause: err}
	case errors.Is(err, vpclient.ErrMalformedLink):
		return fieldErr("request", "%s", detail())
	case errors.Is(err, vpclient.ErrInsecureURL):
		return &ServiceError{Status: http.StatusUnprocessableEntity, Kind: "insecure-url", Field: "request",
			Detail: "the verifier's request_uri or response_uri must be an https URL", Cause: err}
	case errors.Is(err, vpclient.ErrUnsupported):
		return &ServiceError{Status: http.StatusUnprocessableEntity, Kind: "unsupported-request", Field: "request",
			Detail: detail(), Cause: err}
	case errors.Is(err, vpclient.ErrInvalidRequest):
		return &ServiceError{Status: http.StatusUnprocessableEntity, Kind: "invalid-presentation-request", Field: "request",
			Detail: detail(), Cause: err}
	case errors.As(err, &ve):
		d := fmt.Sprintf("the verifier's %s answered %d", ve.Endpoint, ve.Status)
		if ve.Code != "" {
			d += " (" + ve.Code + ")"
		}
		if ve.Description != "" {
			d += ": " + ve.Description
		}
		return &ServiceError{Status: http.StatusBadGateway, Kind: "verifier-error", Detail: d, Cause: err}
	case errors.Is(err, context.Canceled):
		return err
	}
	return &ServiceError{Status: http.StatusBadGateway, Kind: "verifier-unavailable",
		Detail: "the verifier could not be reached or did not answer properly", Cause: err}
}

// heldCredential is a stored credential as a DCQL candidate.
type heldCredential struct {
	rec  *credRecord
	cand dcql.Candidate
}

// presentable loads the account's credentials in formats the wallet can
// present.
func (s *Service) presentable(ctx context.Context, a Account) ([]heldCredential, error) {
	v, err := s.vault(a)
	if err != nil {
		return nil, err
	}
	var out []heldCredential
	err = s.store.List(ctx, dataKey(a.ID, "cred", ""), func(k string, raw []byte) error {
		var rec credRecord
		if err := v.open(k, raw, &rec); err != nil {
			return fmt.Errorf("walletapi: credential %s: %w", k, err)
		}
		if len(rec.Copies) == 0 {
			return nil
		}
		bound := len(rec.Copies[0].PKCS8) > 0
		claims := rec.Claims
		if claims == nil {
			claims = map[string]any{}
		}
		var c dcql.Candidate
		switch rec.Summary.Format {
		case "dc+sd-jwt":
			c = dcql.Candidate{Format: dcql.FormatSDJWTVC, VCT: rec.Summary.Type, Claims: claims, HolderBinding: bound}
		case "jwt_vc_json":
			types := []string{"VerifiableCredential"}
			if rec.Summary.Type != "" {
				types = append(types, rec.Summary.Type)
			}
			c = dcql.Candidate{Format: dcql.FormatJWTVCJSON, Types: types, HolderBinding: bound,
				Claims: map[string]any{"type": types, "issuer": rec.Summary.Issuer, "credentialSubject": claims}}
		case formatLDPVC:
			types := make([]any, len(rec.Types))
			for i, t := range rec.Types {
				types[i] = t
			}
			c = dcql.Candidate{Format: dcql.FormatLDPVC, Types: rec.Types, HolderBinding: bound,
				Claims: map[string]any{"type": types, "issuer": rec.Summary.Issuer, "credentialSubject": claims}}
		default:
			return nil
		}
		out = append(out, heldCredential{rec: &rec, cand: c})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Newest first, so that a default choice is the latest credential.
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].rec.Summary.ReceivedAt.After(out[j].rec.Summary.ReceivedAt)
	})
	return out, nil
}

// selection is what one Credential Query may ask of one candidate: every
// concrete path it may select, and for each claim query the paths that
// satisfy it.
type selection struct {
	paths   []dcql.Path
	byClaim []map[string]bool
}

func selectable(cq *dcql.CredentialQuery, claims map[string]any) selection {
	sel := selection{byClaim: make([]map[string]bool, len(cq.Claims))}
	seen := map[string]bool{}
	for i, cl := range cq.Claims {
		sel.byClaim[i] = map[string]bool{}
		found, err := cl.Path.Select(claims)
		if err != nil {
			continue
		}
		for _, f := range found {
			if len(cl.Values) > 0 && !slices.ContainsFunc(cl.Values, func(w any) bool { return dcql.ValueMatches(w, f.Value) }) {
				continue
			}
			k := f.Path.String()
			sel.byClaim[i][k] = true
			if !seen[k] {
				seen[k] = true
				sel.paths = append(sel.paths, f.Path)
			}
		}
	}
	return sel
}

// satisfies reports whether disclosing exactly chosen (path keys) meets
// the Credential Query: every claim, or every claim of one claim set.
func (sel selection) satisfies(cq *dcql.CredentialQuery, chosen map[string]bool) bool {
	ok := func(i int) bool {
		for k := range sel.byClaim[i] {
			if chosen[k] {
				return true
			}
		}
		return false
	}
	if len(cq.ClaimSets) == 0 {
		for i := range cq.Claims {
			if !ok(i) {
				return false
			}
		}
		return true
	}
	for _, set := range cq.ClaimSets {
		all := true
		for _, id := range set {
			i := slices.IndexFunc(cq.Claims, func(c dcql.ClaimQuery) bool { return c.ID == id })
			if i < 0 || !ok(i) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// PreviewPresentation fetches and checks a presentation request and says
// who asks, why, and what each matching credential would disclose. Nothing
// is sent to the verifier.
func (s *Service) PreviewPresentation(ctx context.Context, a Account, link string) (*PresentationPreview, error) {
	r, err := s.loadPresentationRequest(ctx, link)
	if err != nil {
		return nil, err
	}
	held, err := s.presentable(ctx, a)
	if err != nil {
		return nil, err
	}
	cands := make([]dcql.Candidate, len(held))
	for i := range held {
		cands[i] = held[i].cand
	}
	res := r.Query.Match(cands)
	p := &PresentationPreview{ClientID: r.ClientID, ClientIDPrefix: r.Prefix, ClientName: r.ClientMetadata.ClientName,
		SignedBy: r.SignedBy, VerifierInfo: r.VerifierInfo, Purpose: r.Purpose, ResponseURI: r.ResponseURI,
		ResponseMode: r.ResponseMode, DCQLQuery: r.QueryJSON, Satisfiable: res.Satisfied, Credentials: []QueryMatches{}}
	for i := range r.Query.Credentials {
		cq := &r.Query.Credentials[i]
		qm := QueryMatches{ID: cq.ID, Format: string(cq.Format), Requested: slices.Contains(res.Selected, cq.ID),
			Matches: []MatchingCredential{}}
		for _, m := range res.Matches[cq.ID] {
			h := held[m.Candidate]
			mc := MatchingCredential{CredentialID: h.rec.Summary.ID, Type: h.rec.Summary.Type, Issuer: h.rec.Summary.Issuer,
				Name:     displayName(h.rec.Display.Display, h.rec.Summary.ConfigurationID),
				Disclose: nonNil(m.Disclose), Selectable: nonNil(selectable(cq, h.cand.Claims).paths),
				SelectiveDisclosure: cq.Format == dcql.FormatSDJWTVC, AlwaysDisclosed: alwaysDisclosed(h.rec)}
			for _, c := range h.rec.Copies {
				if !c.Used {
					mc.UnusedCopies++
				}
			}
			qm.Matches = append(qm.Matches, mc)
		}
		p.Credentials = append(p.Credentials, qm)
	}
	return p, nil
}

func nonNil(p []dcql.Path) []dcql.Path {
	if p == nil {
		return []dcql.Path{}
	}
	return p
}

// alwaysDisclosed names the claims a credential shows whatever is chosen:
// for an SD-JWT VC the issuer-signed payload's own claims (not the
// technical ones), for a jwt_vc_json or ldp_vc every claim.
func alwaysDisclosed(rec *credRecord) []string {
	out := []string{}
	if rec.Summary.Format != "dc+sd-jwt" {
		for k := range rec.Claims {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	var compact string
	if len(rec.Copies) == 0 || json.Unmarshal(rec.Copies[0].Credential, &compact) != nil {
		return out
	}
	jwt, _, _ := strings.Cut(compact, "~")
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return out
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return out
	}
	var payload map[string]json.RawMessage
	if json.Unmarshal(b, &payload) != nil {
		return out
	}
	for k := range payload {
		if k != "_sd" && k != "_sd_alg" && !slices.Contains(technicalClaims, k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// shownClaimNames names, as the history names chosen claims (paths from
// the credential, as DCQL sees it), the claims a credential discloses
// whatever is chosen: alwaysDisclosed, under credentialSubject for the
// W3C formats.
func shownClaimNames(rec *credRecord) []string {
	names := alwaysDisclosed(rec)
	if rec.Summary.Format != "dc+sd-jwt" {
		for i, n := range names {
			names[i] = "credentialSubject." + n
		}
	}
	return names
}

// plannedCredential is one credential about to be presented.
type plannedCredential struct {
	queryID string
	held    heldCredential
	paths   []dcql.Path
}

// Present answers a presentation request: for each requested Credential
// Query, the patient's choice (or the first matching credential with what
// the query requires), presented from a fresh unused copy with a key
// binding to the request's nonce and client_id, posted with the request's
// response mode. A claim the patient did not choose is never disclosed.
func (s *Service) Present(ctx context.Context, a Account, req PresentRequest) (*PresentationResult, error) {
	r, err := s.loadPresentationRequest(ctx, req.Request)
	if err != nil {
		return nil, err
	}
	held, err := s.presentable(ctx, a)
	if err != nil {
		return nil, err
	}
	cands := make([]dcql.Candidate, len(held))
	for i := range held {
		cands[i] = held[i].cand
	}
	res := r.Query.Match(cands)
	for id := range req.Choices {
		if r.Query.Credential(id) == nil {
			return nil, fieldErr("choices", "the request has no credential query %q", clipText(id, 64))
		}
		if !slices.Contains(res.Selected, id) {
			return nil, fieldErr("choices", "credential query %q is not one this wallet answers for this request", clipText(id, 64))
		}
	}
	if !res.Satisfied {
		return nil, &ServiceError{Status: http.StatusUnprocessableEntity, Kind: "no-matching-credential", Field: "request",
			Detail: "this wallet holds no credentials that satisfy the request; nothing was sent"}
	}
	var plan []plannedCredential
	for _, id := range res.Selected {
		cq := r.Query.Credential(id)
		p, err := planCredential(cq, held, res.Matches[id], req.Choices[id])
		if err != nil {
			return nil, err
		}
		plan = append(plan, *p)
	}

	now := s.now()
	tok := vpclient.VPToken{}
	out := &PresentationResult{ID: randomID(12), ClientID: r.ClientID, ClientName: r.ClientMetadata.ClientName, Presented: []PresentedCredential{}}
	for _, p := range plan {
		cp, reused, err := s.takeCopy(ctx, a, p.held.rec.Summary.ID)
		if err != nil {
			return nil, err
		}
		pres, err := s.buildPresentation(ctx, p, cp, r, now)
		if err != nil {
			return nil, err
		}
		tok[p.queryID] = append(tok[p.queryID], pres)
		out.Presented = append(out.Presented, PresentedCredential{QueryID: p.queryID, CredentialID: p.held.rec.Summary.ID,
			Name: displayName(p.held.rec.Display.Display, p.held.rec.Summary.ConfigurationID), Claims: p.paths, CopyReused: reused,
			shown: shownClaimNames(p.held.rec)})
		out.CopyReused = out.CopyReused || reused
	}
	fctx, cancel := context.WithTimeout(ctx, s.opt.FetchTimeout)
	defer cancel()
	reply, err := s.vp().Respond(fctx, r, tok)
	var ve *vpclient.Error
	switch {
	case err == nil:
		out.RedirectURI = reply.RedirectURI
		if herr := s.recordPresentation(ctx, a, r, out, "accepted"); herr != nil {
			return nil, herr
		}
		s.opt.Logger.InfoContext(ctx, "presentation sent", "account", a.ID, "credentials", len(plan))
		return out, nil
	case errors.As(err, &ve) && ve.Status >= 400 && ve.Status < 500:
		// The verifier received the presentation and refused it: it is
		// in the history all the same.
		if herr := s.recordPresentation(ctx, a, r, out, "refused"); herr != nil {
			return nil, herr
		}
	}
	return nil, requestError(err)
}

// planCredential picks the credential and the claims for one Credential
// Query and checks the patient's choice.
func planCredential(cq *dcql.CredentialQuery, held []heldCredential, matches []dcql.CredentialMatch, ch PresentChoice) (*plannedCredential, error) {
	field := "choices." + cq.ID
	var m *dcql.CredentialMatch
	if ch.CredentialID == "" {
		// The first match with an unused copy, else the first match.
		for i := range matches {
			if m == nil || (unused(held[m.Candidate].rec) == 0 && unused(held[matches[i].Candidate].rec) > 0) {
				m = &matches[i]
			}
		}
	} else {
		for i := range matches {
			if held[matches[i].Candidate].rec.Summary.ID == ch.CredentialID {
				m = &matches[i]
			}
		}
		if m == nil {
			return nil, fieldErr(field+".credential_id", "no credential with this id in this wallet satisfies the credential query")
		}
	}
	h := held[m.Candidate]
	p := &plannedCredential{queryID: cq.ID, held: h}
	if ch.Claims == nil {
		p.paths = nonNil(m.Disclose)
		return p, nil
	}
	if cq.Format != dcql.FormatSDJWTVC {
		return nil, fieldErr(field+".claims", "a %s credential cannot disclose some claims only: every claim is presented", cq.Format)
	}
	sel := selectable(cq, h.cand.Claims)
	allowed := map[string]bool{}
	for _, sp := range sel.paths {
		allowed[sp.String()] = true
	}
	chosen := map[string]bool{}
	p.paths = []dcql.Path{}
	for i, raw := range ch.Claims {
		path, err := dcql.ParsePath(raw)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("%s.claims[%d]", field, i), "not a claims path pointer: %v", strings.TrimPrefix(err.Error(), "dcql: "))
		}
		if !path.IsConcrete() || !allowed[path.String()] {
			return nil, fieldErr(fmt.Sprintf("%s.claims[%d]", field, i), "not a claim this request asks of the credential (see selectable in the preview)")
		}
		if !chosen[path.String()] {
			chosen[path.String()] = true
			p.paths = append(p.paths, path)
		}
	}
	if !sel.satisfies(cq, chosen) {
		return nil, &ServiceError{Status: http.StatusUnprocessableEntity, Kind: "choice-not-sufficient", Field: field + ".claims",
			Detail: "the chosen claims do not satisfy what the verifier requires; nothing was sent"}
	}
	return p, nil
}

func unused(rec *credRecord) int {
	n := 0
	for _, c := range rec.Copies {
		if !c.Used {
			n++
		}
	}
	return n
}

// takeCopy marks a copy of credential id used and returns it: a fresh
// unused copy when there is one (reused false), else the first copy. The
// record is updated with compare-and-swap before anything is sent, so two
// concurrent presentations never get the same unused copy.
func (s *Service) takeCopy(ctx context.Context, a Account, id string) (copyRecord, bool, error) {
	v, err := s.vault(a)
	if err != nil {
		return copyRecord{}, false, err
	}
	ck := dataKey(a.ID, "cred", id)
	for range 8 {
		raw, err := s.store.Get(ctx, ck)
		if err != nil {
			return copyRecord{}, false, notFound(err)
		}
		var rec credRecord
		if err := v.open(ck, raw, &rec); err != nil {
			return copyRecord{}, false, err
		}
		if len(rec.Copies) == 0 {
			return copyRecord{}, false, ErrNotFound
		}
		i := slices.IndexFunc(rec.Copies, func(c copyRecord) bool { return !c.Used })
		if i < 0 {
			return rec.Copies[0], true, nil
		}
		rec.Copies[i].Used = true
		sealed, err := v.seal(ck, &rec)
		if err != nil {
			return copyRecord{}, false, err
		}
		err = s.store.CompareAndSwap(ctx, ck, raw, sealed, 0)
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		if err != nil {
			return copyRecord{}, false, err
		}
		return rec.Copies[i], false, nil
	}
	return copyRecord{}, false, errors.New("walletapi: the credential kept changing while a copy was taken")
}

// buildPresentation makes the vp_token entry of one credential: a JSON
// string, an SD-JWT VC with only the planned disclosures and a key-binding
// JWT, or a JWT VP signed by the copy's key; or for an ldp_vc a JSON
// object, a VP with the copy's Data Integrity proof.
func (s *Service) buildPresentation(ctx context.Context, p plannedCredential, cp copyRecord, r *vpclient.Request, now time.Time) (json.RawMessage, error) {
	if len(cp.PKCS8) == 0 {
		return nil, &ServiceError{Status: http.StatusUnprocessableEntity, Kind: "unbound-credential",
			Detail: "the credential is not bound to a key of this wallet, so it cannot be presented"}
	}
	k, err := keys.ParsePKCS8(cp.PKCS8)
	if err != nil {
		return nil, err
	}
	format := p.held.rec.Summary.Format
	if format == formatLDPVC {
		return s.ldpVP(ctx, k, cp.HolderDID, cp.Credential, r, now)
	}
	var compact string
	if err := json.Unmarshal(cp.Credential, &compact); err != nil {
		return nil, fmt.Errorf("walletapi: stored credential is not a string: %w", err)
	}
	var pres string
	switch format {
	case "dc+sd-jwt":
		paths := make([][]any, len(p.paths))
		for i, q := range p.paths {
			paths[i] = q
		}
		pres, err = sdjwt.Present(compact, sdjwt.DisclosePaths(paths...),
			&sdjwt.KeyBindingOptions{Key: k, Nonce: r.Nonce, Audience: r.ClientID, IssuedAt: now})
	case "jwt_vc_json":
		pres, err = jwtVP(k, cp.HolderDID, compact, r, now)
	default:
		return nil, fmt.Errorf("walletapi: cannot present format %s", format)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(pres)
}

// jwtVP is a W3C VP as a JWT (jwt_vc_json), signed by the holder key with
// its did:jwk as kid, bound to the request's nonce and client_id.
func jwtVP(k *keys.PrivateKey, holder, vc string, r *vpclient.Request, now time.Time) (string, error) {
	if holder == "" {
		return "", errors.New("walletapi: the copy has no holder DID")
	}
	payload, err := json.Marshal(map[string]any{
		"iss": holder, "aud": r.ClientID, "nonce": r.Nonce, "iat": now.Unix(), "exp": now.Add(vpLifetime).Unix(),
		"jti": "urn:uuid:" + randomID(16),
		"vp": map[string]any{
			"@context":             []string{"https://www.w3.org/2018/credentials/v1"},
			"type":                 []string{"VerifiablePresentation"},
			"holder":               holder,
			"verifiableCredential": []string{vc},
		},
	})
	if err != nil {
		return "", err
	}
	var alg jwa.SignatureAlgorithm
	switch k.Algorithm() {
	case keys.ES256:
		alg = jwa.ES256()
	case keys.EdDSA:
		alg = jwa.EdDSA()
	default:
		return "", fmt.Errorf("walletapi: holder key alg %s", k.Algorithm())
	}
	h := jws.NewHeaders()
	if err := h.Set(jws.TypeKey, "JWT"); err != nil {
		return "", err
	}
	if err := h.Set(jws.KeyIDKey, holder+"#0"); err != nil {
		return "", err
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, k.Signer(), jws.WithProtectedHeaders(h)))
	if err != nil {
		return "", fmt.Errorf("walletapi: sign the presentation: %w", err)
	}
	return string(out), nil
}

// presRecord is a PresentationRecord at rest.
type presRecord struct {
	ID          string              `json:"id"`
	At          time.Time           `json:"at"`
	ClientID    string              `json:"client_id"`
	ClientName  string              `json:"client_name,omitempty"`
	Purpose     string              `json:"purpose,omitempty"`
	Outcome     string              `json:"outcome"`
	Credentials []PresentationClaim `json:"creds"`
}

// recordPresentation keeps the presentation in the wallet's history: a
// presentation record (to whom, when, which claim names) and one history
// event per credential.
func (s *Service) recordPresentation(ctx context.Context, a Account, r *vpclient.Request, res *PresentationResult, outcome string) error {
	v, err := s.vault(a)
	if err != nil {
		return err
	}
	at := s.now().UTC()
	rec := presRecord{ID: res.ID, At: at, ClientID: r.ClientID, ClientName: r.ClientMetadata.ClientName,
		Purpose: r.Purpose, Outcome: outcome}
	for _, p := range res.Presented {
		// What was chosen, then what the credential shows anyway: a
		// jwt_vc_json or ldp_vc credential is sent whole, and an SD-JWT
		// VC's issuer-signed payload claims are not selective.
		names := make([]string, 0, len(p.Claims)+len(p.shown))
		for _, c := range p.Claims {
			names = append(names, claimName(c))
		}
		for _, n := range p.shown {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		rec.Credentials = append(rec.Credentials, PresentationClaim{CredentialID: p.CredentialID, Name: p.Name,
			Claims: names, CopyReused: p.CopyReused})
	}
	k := dataKey(a.ID, "pres", fmt.Sprintf("%020d-%s", at.UnixNano(), res.ID))
	sealed, err := v.seal(k, rec)
	if err != nil {
		return err
	}
	if err := s.store.Put(ctx, k, sealed, 0); err != nil {
		return err
	}
	for _, p := range res.Presented {
		if err := s.addHistory(ctx, a, historyRecord{Event: EventPresentationSent, At: at, CredentialID: p.CredentialID,
			Name: p.Name}); err != nil {
			return err
		}
	}
	return nil
}

// claimName is a claim path as a name: members joined by ".", array
// positions as "[i]", every element as "[*]".
func claimName(p dcql.Path) string {
	var b strings.Builder
	for i, c := range p {
		switch c := c.(type) {
		case string:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(c)
		case int:
			b.WriteString("[" + strconv.Itoa(c) + "]")
		case nil:
			b.WriteString("[*]")
		}
	}
	return b.String()
}

// Presentations lists the presentations the account sent, newest first,
// at most limit (all when limit <= 0).
func (s *Service) Presentations(ctx context.Context, a Account, limit int) ([]PresentationRecord, error) {
	v, err := s.vault(a)
	if err != nil {
		return nil, err
	}
	var recs []presRecord
	err = s.store.List(ctx, dataKey(a.ID, "pres", ""), func(k string, raw []byte) error {
		var r presRecord
		if err := v.open(k, raw, &r); err != nil {
			return fmt.Errorf("walletapi: presentation %s: %w", k, err)
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := []PresentationRecord{}
	for i := len(recs) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		r := recs[i]
		out = append(out, PresentationRecord{ID: r.ID, At: r.At, ClientID: r.ClientID, ClientName: r.ClientName,
			Purpose: r.Purpose, Outcome: r.Outcome, Credentials: r.Credentials})
	}
	return out, nil
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
