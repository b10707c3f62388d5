package openid4vp

// DIF Presentation Exchange 2.0, for wallets that predate DCQL: a session
// created with a presentation_definition sends it in the request (as the
// pre-1.0 OpenID4VP drafts did), and the wallet answers with a vp_token
// (one presentation, or an array of them) and a presentation_submission
// that maps each input descriptor to a presentation. The definition is
// translated to DCQL by credentials/presexch when the session is created,
// so the checks after verification are the DCQL ones.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/medid/medid/credentials/dcql"
	"github.com/medid/medid/credentials/presexch"
	"github.com/medid/medid/internal/jsonx"
)

// MaxSubmission bounds a presentation_submission, in bytes.
const MaxSubmission = 64 << 10

// PEResponse is a vp_token and its presentation_submission, checked
// against the presentation definition they answer: every input descriptor
// is answered by exactly one presentation and every presentation answers
// one descriptor. The presentations are not verified yet.
type PEResponse struct {
	// SubmissionID is the submission's id.
	SubmissionID string
	// Presentations, one per input descriptor, in descriptor_map order.
	Presentations []PEPresentation

	query *dcql.Query
}

// PEPresentation is one descriptor_map entry and the presentation it
// points to.
type PEPresentation struct {
	// DescriptorID is the input descriptor's id; QueryID is its
	// Credential Query in the translated DCQL query.
	DescriptorID string
	QueryID      string
	// Format is the descriptor's format as a DCQL format (dc+sd-jwt,
	// jwt_vc_json, ldp_vc, mso_mdoc): the format the presentation is
	// verified as. SubmittedFormat is the format the wallet named
	// (vc+sd-jwt, jwt_vp_json, ldp_vp, …).
	Format          dcql.Format
	SubmittedFormat string
	// Path is the descriptor_map path: "$" or "$[n]".
	Path string
	// Presentation is the JSON value at Path: a string or an object.
	Presentation json.RawMessage
}

// submittedFormats are the descriptor_map formats accepted for each
// descriptor format: the PE and pre-1.0 OpenID4VP names of the
// presentation, and of the credential for wallets that name that.
var submittedFormats = map[dcql.Format][]string{
	dcql.FormatSDJWTVC:   {"dc+sd-jwt", "vc+sd-jwt"},
	dcql.FormatJWTVCJSON: {"jwt_vp_json", "jwt_vp", "jwt_vc_json", "jwt_vc"},
	dcql.FormatLDPVC:     {"ldp_vp", "ldp_vc"},
	dcql.FormatMDoc:      {"mso_mdoc"},
}

// nestedFormats are the path_nested formats accepted inside a VP format:
// the VP holds the credential at $.verifiableCredential[0] (or
// $.vp.verifiableCredential[0] in a JWT VP's claims).
var nestedFormats = map[string]struct {
	formats []string
	paths   []string
}{
	"jwt_vp_json": {[]string{"jwt_vc_json", "jwt_vc"}, []string{"$.verifiableCredential[0]", "$.vp.verifiableCredential[0]"}},
	"jwt_vp":      {[]string{"jwt_vc_json", "jwt_vc"}, []string{"$.verifiableCredential[0]", "$.vp.verifiableCredential[0]"}},
	"ldp_vp":      {[]string{"ldp_vc"}, []string{"$.verifiableCredential[0]"}},
}

// ParsePEResponse reads a Presentation Exchange response strictly against
// def: vpToken is the vp_token as a JSON value (a string or an object for
// one presentation, an array for several) and submission the
// presentation_submission object ({id, definition_id, descriptor_map:
// [{id, format, path, path_nested?}]}).
//
// The definition_id must be def's; each descriptor_map id must name one
// of def's input descriptors, once; its format must fit the descriptor's;
// its path is "$" for a single presentation or "$[n]" into an array, to a
// string or an object as the format requires, and no two entries share
// one; path_nested, for a VP holding the credential,
// is accepted only as $.verifiableCredential[0]. Every input descriptor
// must be answered and every presentation named. Members outside PE 2.0's
// presentation submission are refused. Errors are *Error with
// invalid_request and never quote presentations.
func ParsePEResponse(def *presexch.Definition, vpToken, submission []byte) (*PEResponse, error) {
	if def == nil || def.Query == nil {
		return nil, errors.New("openid4vp: no presentation definition")
	}
	list, array, err := pePresentations(vpToken)
	if err != nil {
		return nil, err
	}
	if len(submission) == 0 {
		return nil, invalidRequest("presentation_submission is required")
	}
	if len(submission) > MaxSubmission {
		return nil, invalidRequest("presentation_submission exceeds %d bytes", MaxSubmission)
	}
	m, err := jsonx.UniqueObject(submission)
	if err != nil {
		return nil, invalidRequest("presentation_submission is not a JSON object: %s", truncate(err.Error(), 128))
	}
	if err := onlyMembers(m, "presentation_submission", "id", "definition_id", "descriptor_map"); err != nil {
		return nil, err
	}
	out := &PEResponse{query: def.Query}
	if out.SubmissionID, err = stringMember(m, "presentation_submission", "id"); err != nil {
		return nil, err
	}
	defID, err := stringMember(m, "presentation_submission", "definition_id")
	if err != nil {
		return nil, err
	}
	if defID != def.ID {
		return nil, invalidRequest("presentation_submission.definition_id does not match the presentation_definition's id")
	}
	var entries []json.RawMessage
	if raw, ok := m["descriptor_map"]; !ok || json.Unmarshal(raw, &entries) != nil || len(entries) == 0 {
		return nil, invalidRequest("presentation_submission.descriptor_map must be a non-empty array")
	}
	if len(entries) > len(def.DescriptorIDs) {
		return nil, invalidRequest("presentation_submission.descriptor_map has more entries than the presentation_definition has input descriptors")
	}
	queryOf := make(map[string]string, len(def.DescriptorIDs))
	for qid, did := range def.DescriptorIDs {
		queryOf[did] = qid
	}
	answered := map[string]bool{}
	used := make([]bool, len(list))
	for i, raw := range entries {
		p := "presentation_submission.descriptor_map[" + strconv.Itoa(i) + "]"
		e, err := jsonx.UniqueObject(raw)
		if err != nil {
			return nil, invalidRequest("%s must be a JSON object", p)
		}
		if err := onlyMembers(e, p, "id", "format", "path", "path_nested"); err != nil {
			return nil, err
		}
		id, err := stringMember(e, p, "id")
		if err != nil {
			return nil, err
		}
		qid, ok := queryOf[id]
		if !ok {
			return nil, invalidRequest("%s.id %q names no input descriptor of the presentation_definition", p, truncate(id, 64))
		}
		if answered[id] {
			return nil, invalidRequest("%s.id: input descriptor %q is answered more than once", p, truncate(id, 64))
		}
		answered[id] = true
		cq := def.Query.Credential(qid)
		format, err := stringMember(e, p, "format")
		if err != nil {
			return nil, err
		}
		if !slices.Contains(submittedFormats[cq.Format], format) {
			return nil, invalidRequest("%s.format %q does not fit input descriptor %q (want one of %v)", p, truncate(format, 32), truncate(id, 64), submittedFormats[cq.Format])
		}
		path, err := stringMember(e, p, "path")
		if err != nil {
			return nil, err
		}
		n, err := vpTokenIndex(path, array, len(list))
		if err != nil {
			return nil, invalidRequest("%s.path: %v", p, err)
		}
		if used[n] {
			return nil, invalidRequest("%s.path: another descriptor_map entry already points to this presentation", p)
		}
		used[n] = true
		if isString := list[n][0] == '"'; isString != cq.Format.StringPresentation() {
			want := "a JSON string"
			if !cq.Format.StringPresentation() {
				want = "a JSON object"
			}
			return nil, invalidRequest("%s.path: a %s presentation must be %s", p, cq.Format, want)
		}
		if raw, ok := e["path_nested"]; ok {
			if err := checkNested(raw, p+".path_nested", id, format); err != nil {
				return nil, err
			}
		}
		out.Presentations = append(out.Presentations, PEPresentation{DescriptorID: id, QueryID: qid, Format: cq.Format,
			SubmittedFormat: format, Path: path, Presentation: list[n]})
	}
	for n, u := range used {
		if !u {
			return nil, invalidRequest("vp_token presentation %d is named by no descriptor_map entry", n)
		}
	}
	for _, cq := range def.Query.Credentials {
		if did := def.DescriptorIDs[cq.ID]; !answered[did] {
			return nil, invalidRequest("input descriptor %q is not answered by the presentation_submission", truncate(did, 64))
		}
	}
	return out, nil
}

// pePresentations reads a PE vp_token: one presentation (a JSON string
// or object) or a non-empty array of them. array says which, since paths
// differ ($ or $[n]).
func pePresentations(data []byte) ([]json.RawMessage, bool, error) {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0:
		return nil, false, invalidRequest("vp_token is required")
	case len(data) > MaxResponseBody:
		return nil, false, invalidRequest("vp_token exceeds %d bytes", MaxResponseBody)
	case !json.Valid(data):
		return nil, false, invalidRequest("vp_token is not valid JSON")
	}
	list := []json.RawMessage{data}
	array := data[0] == '['
	if array {
		list = nil
		if err := json.Unmarshal(data, &list); err != nil || len(list) == 0 {
			return nil, false, invalidRequest("vp_token must be a presentation or a non-empty array of presentations")
		}
		if len(list) > maxPresentations {
			return nil, false, invalidRequest("vp_token holds more than %d presentations", maxPresentations)
		}
	}
	for i, p := range list {
		where := "vp_token"
		if array {
			where = "vp_token[" + strconv.Itoa(i) + "]"
		}
		p = bytes.TrimSpace(p)
		list[i] = p
		if len(p) > MaxPresentation {
			return nil, false, invalidRequest("%s exceeds %d bytes", where, MaxPresentation)
		}
		switch p[0] {
		case '"':
			if s, ok := dcql.PresentationString(p); !ok || s == "" {
				return nil, false, invalidRequest("%s is an empty presentation", where)
			}
		case '{':
			if _, err := jsonx.UniqueObject(p); err != nil {
				return nil, false, invalidRequest("%s is a malformed object", where)
			}
		default:
			return nil, false, invalidRequest("%s must be a presentation: a string or an object", where)
		}
	}
	return list, array, nil
}

// vpTokenIndex reads a descriptor_map path: "$" for a single
// presentation, "$[n]" into an array of n+1 or more.
func vpTokenIndex(path string, array bool, n int) (int, error) {
	if !array {
		if path != "$" {
			return 0, errors.New(`the vp_token is a single presentation, so the path must be "$"`)
		}
		return 0, nil
	}
	if path == "$" {
		return 0, errors.New(`the vp_token is an array, so the path must be "$[n]"`)
	}
	digits, ok := cutAffixes(path, "$[", "]")
	if !ok || digits == "" || len(digits) > 4 || (len(digits) > 1 && digits[0] == '0') ||
		slices.ContainsFunc([]byte(digits), func(c byte) bool { return c < '0' || c > '9' }) {
		return 0, errors.New(`must be "$" or "$[n]"`)
	}
	i, _ := strconv.Atoi(digits)
	if i >= n {
		return 0, fmt.Errorf("index %d is out of range: the vp_token holds %d presentations", i, n)
	}
	return i, nil
}

func cutAffixes(s, prefix, suffix string) (string, bool) {
	if len(s) < len(prefix)+len(suffix) || s[:len(prefix)] != prefix || s[len(s)-len(suffix):] != suffix {
		return "", false
	}
	return s[len(prefix) : len(s)-len(suffix)], true
}

// checkNested accepts a path_nested that points to the one credential of
// a VP: same id, a credential format of the VP's format, the VP's first
// credential, and no deeper nesting.
func checkNested(raw json.RawMessage, p, id, outer string) error {
	nf, ok := nestedFormats[outer]
	if !ok {
		return invalidRequest("%s is not supported for format %q", p, outer)
	}
	e, err := jsonx.UniqueObject(raw)
	if err != nil {
		return invalidRequest("%s must be a JSON object", p)
	}
	if err := onlyMembers(e, p, "id", "format", "path"); err != nil {
		return err
	}
	nid, err := stringMember(e, p, "id")
	if err != nil {
		return err
	}
	if nid != id {
		return invalidRequest("%s.id must be the descriptor_map entry's id", p)
	}
	format, err := stringMember(e, p, "format")
	if err != nil {
		return err
	}
	if !slices.Contains(nf.formats, format) {
		return invalidRequest("%s.format %q does not fit %s (want one of %v)", p, truncate(format, 32), outer, nf.formats)
	}
	path, err := stringMember(e, p, "path")
	if err != nil {
		return err
	}
	if !slices.Contains(nf.paths, path) {
		return invalidRequest("%s.path must be one of %v: one credential per presentation is supported", p, nf.paths)
	}
	return nil
}

func onlyMembers(m map[string]json.RawMessage, p string, names ...string) error {
	var bad []string
	for k := range m {
		if !slices.Contains(names, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	return invalidRequest("%s: member %q is not supported", p, truncate(bad[0], 64))
}

// stringMember reads a required, non-empty string member of at most 256
// bytes.
func stringMember(m map[string]json.RawMessage, p, name string) (string, error) {
	var s string
	raw, ok := m[name]
	if !ok {
		return "", invalidRequest("%s.%s is required", p, name)
	}
	if json.Unmarshal(raw, &s) != nil || s == "" || len(s) > 256 {
		return "", invalidRequest("%s.%s must be a non-empty string of at most 256 bytes", p, name)
	}
	return s, nil
}

// verifyPE verifies each presentation of a PE response for its input
// descriptor and checks it against the descriptor's Credential Query. It
// returns the verified presentations keyed by input descriptor id, or why
// the session fails.
func (s *Service) verifyPE(ctx context.Context, r *record, pe *PEResponse) (map[string][]*VerifiedPresentation, *StatusError) {
	presented := map[string][]*VerifiedPresentation{}
	var firstFailure, mismatch error
	for _, p := range pe.Presentations {
		vp, err := s.opt.Verifier.VerifyPresentation(ctx, string(p.Format), p.Presentation, r.Nonce, r.ClientID)
		if err == nil && vp == nil {
			err = errors.New("the verifier returned no result")
		}
		if err != nil {
			if firstFailure == nil {
				firstFailure = fmt.Errorf("input descriptor %s: %w", p.DescriptorID, err)
			}
			continue
		}
		if vp.Format == "" {
			vp.Format = string(p.Format)
		}
		if _, err := pe.query.CheckPresentation(p.QueryID, candidate(vp)); err != nil {
			if mismatch == nil {
				mismatch = fmt.Errorf("input descriptor %s: %w", p.DescriptorID, err)
			}
			continue
		}
		presented[p.DescriptorID] = []*VerifiedPresentation{vp}
	}
	switch {
	case firstFailure != nil:
		return nil, verificationFailed(firstFailure)
	case mismatch != nil:
		return nil, &StatusError{Code: StatusQueryNotSatisfied, Description: mismatch.Error()}
	case len(presented) != len(pe.query.Credentials):
		// ParsePEResponse makes every descriptor answered; keep the rule
		// here too, next to the decision.
		return nil, &StatusError{Code: StatusQueryNotSatisfied, Description: "not every input descriptor is answered"}
	}
	return presented, nil
}

// peVPFormats is client_metadata vp_formats of the pre-1.0 drafts: the
// supported formats under their older names too.
func peVPFormats(formats map[string]any) map[string]any {
	out := make(map[string]any, len(formats)*2)
	for k, v := range formats {
		out[k] = v
	}
	for name, alias := range map[string]string{"dc+sd-jwt": "vc+sd-jwt", "jwt_vc_json": "jwt_vp_json", "ldp_vc": "ldp_vp"} {
		if v, ok := formats[name]; ok {
			if _, taken := out[alias]; !taken {
				out[alias] = v
			}
		}
	}
	return out
}
