package access

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/httpx"
)

// Bounds on a request.
const (
	maxParams      = 32
	maxParamValues = 16
	maxText        = 256
	maxLabels      = 32
)

// DecisionRequest is a parsed, validated POST /verifier/access-decisions
// body. Exactly one of Presentation and SessionID is set.
type DecisionRequest struct {
	Presentation *Presentation
	SessionID    string
	Request      Request
}

// Presentation is a consent presentation made directly to this service.
type Presentation struct {
	// Format is the OpenID4VP format identifier ("dc+sd-jwt",
	// "jwt_vc_json", "ldp_vc", …), or "" to let the verifier recognise it.
	Format string
	// VPToken is the presentation as a JSON value: a string for compact
	// forms, an object for Data Integrity.
	VPToken json.RawMessage
	// Nonce is the nonce this service issued, which the presentation is
	// bound to.
	Nonce string
}

// Request is the access asked for.
type Request struct {
	// Patient is the patient whose data is requested.
	Patient did.DID
	// Grantee is the party asking for access.
	Grantee did.DID
	// DelegatedBy, when set, is the consent's grantee for which Grantee
	// acts.
	DelegatedBy  did.DID
	ResourceType string
	Interaction  health.Interaction
	Params       url.Values
	Purpose      health.PurposeOfUse
	Labels       []health.SensitivityLabel
	// Time is when the access takes place; zero means now.
	Time time.Time
}

// The wire form, decoded strictly.
type decisionBody struct {
	Presentation *presentationBody `json:"presentation"`
	SessionID    *string           `json:"session_id"`
	Request      *requestBody      `json:"request"`
}

type presentationBody struct {
	Format  string          `json:"format"`
	VPToken json.RawMessage `json:"vp_token"`
	Nonce   string          `json:"nonce"`
}

type requestBody struct {
	Patient      string                     `json:"patient"`
	Grantee      string                     `json:"grantee"`
	DelegatedBy  string                     `json:"delegated_by"`
	ResourceType string                     `json:"resource_type"`
	Interaction  string                     `json:"interaction"`
	Params       map[string]json.RawMessage `json:"params"`
	Purpose      string                     `json:"purpose"`
	Labels       []string                   `json:"labels"`
	Time         string                     `json:"time"`
}

// interactions maps the names a request may use to SMART interactions:
// the scope letters and the FHIR interaction names.
var interactions = map[string]health.Interaction{
	"c": health.InteractionCreate, "r": health.InteractionRead, "u": health.InteractionUpdate,
	"d": health.InteractionDelete, "s": health.InteractionSearch,
	"create": health.InteractionCreate, "read": health.InteractionRead, "vread": health.InteractionRead,
	"history-instance": health.InteractionRead, "update": health.InteractionUpdate, "patch": health.InteractionUpdate,
	"delete": health.InteractionDelete, "search": health.InteractionSearch, "search-type": health.InteractionSearch,
	"search-system": health.InteractionSearch, "history-type": health.InteractionSearch,
}

var formats = map[string]bool{"": true, "dc+sd-jwt": true, "jwt_vc_json": true, "jwt_vp_json": true, "jwt_vp": true,
	"ldp_vc": true, "ldp_vp": true}

// ParseDecisionRequest decodes and validates a POST
// /verifier/access-decisions body. Errors are 400 *httpx.Error naming the
// offending member ("request.purpose", "presentation.nonce", …).
func ParseDecisionRequest(body []byte) (*DecisionRequest, error) {
	var b decisionBody
	if err := httpx.DecodeJSONBytes(body, &b); err != nil {
		return nil, err
	}
	out := &DecisionRequest{}
	switch {
	case b.Presentation != nil && b.SessionID != nil:
		return nil, httpx.BadRequest("session_id", "give either presentation or session_id, not both")
	case b.Presentation == nil && b.SessionID == nil:
		return nil, httpx.BadRequest("presentation", "a consent is required: presentation or session_id")
	case b.SessionID != nil:
		id := *b.SessionID
		if id == "" || !printable(id, maxText, false) {
			return nil, httpx.BadRequest("session_id", "session_id must be a session id")
		}
		out.SessionID = id
	default:
		p := b.Presentation
		switch {
		case !formats[p.Format]:
			return nil, httpx.BadRequest("presentation.format", "presentation.format must be dc+sd-jwt, jwt_vc_json, jwt_vp_json, ldp_vc or ldp_vp")
		case len(p.VPToken) == 0 || string(p.VPToken) == "null":
			return nil, httpx.BadRequest("presentation.vp_token", "presentation.vp_token is required")
		case p.VPToken[0] != '"' && p.VPToken[0] != '{':
			return nil, httpx.BadRequest("presentation.vp_token", "presentation.vp_token must be a string or an object")
		case p.Nonce == "" || !printable(p.Nonce, maxText, false):
			return nil, httpx.BadRequest("presentation.nonce", "presentation.nonce must be a nonce this service issued")
		}
		out.Presentation = &Presentation{Format: p.Format, VPToken: p.VPToken, Nonce: p.Nonce}
	}
	if b.Request == nil {
		return nil, httpx.BadRequest("request", "request is required")
	}
	r, err := parseRequest(b.Request)
	if err != nil {
		return nil, err
	}
	out.Request = *r
	return out, nil
}

func parseRequest(b *requestBody) (*Request, error) {
	var r Request
	var err error
	if r.Patient, err = parseDID("request.patient", b.Patient, true); err != nil {
		return nil, err
	}
	if r.Grantee, err = parseDID("request.grantee", b.Grantee, true); err != nil {
		return nil, err
	}
	if r.DelegatedBy, err = parseDID("request.delegated_by", b.DelegatedBy, false); err != nil {
		return nil, err
	}
	if r.DelegatedBy == r.Grantee && !r.DelegatedBy.IsZero() {
		return nil, httpx.BadRequest("request.delegated_by", "request.delegated_by must be another party than the grantee")
	}
	switch {
	case b.ResourceType == "":
		return nil, httpx.BadRequest("request.resource_type", "request.resource_type is required")
	case b.ResourceType != "*" && !health.IsResourceType(b.ResourceType):
		return nil, httpx.BadRequest("request.resource_type", "request.resource_type must be a FHIR R4 resource type or *")
	}
	r.ResourceType = b.ResourceType
	var ok bool
	if r.Interaction, ok = interactions[b.Interaction]; !ok {
		return nil, httpx.BadRequest("request.interaction", "request.interaction must be one of c, r, u, d, s (or a FHIR interaction name)")
	}
	if len(b.Params) > maxParams {
		return nil, httpx.BadRequest("request.params", "request.params has more than 32 parameters")
	}
	if len(b.Params) > 0 {
		r.Params = url.Values{}
	}
	for k, raw := range b.Params {
		field := "request.params." + truncate(k, 64)
		if k == "" || !printable(k, 64, false) {
			return nil, httpx.BadRequest("request.params", "request.params has a parameter name that is not a search parameter")
		}
		vs, ok := paramValues(raw)
		if !ok {
			return nil, httpx.BadRequest(field, field+" must be a string or an array of at most 16 strings")
		}
		r.Params[k] = vs
	}
	switch p := health.PurposeOfUse(b.Purpose); {
	case b.Purpose == "":
		return nil, httpx.BadRequest("request.purpose", "request.purpose is required (an HL7 PurposeOfUse code)")
	case !p.Known():
		return nil, httpx.BadRequest("request.purpose", "request.purpose is not an HL7 PurposeOfUse code")
	default:
		r.Purpose = p
	}
	if len(b.Labels) > maxLabels {
		return nil, httpx.BadRequest("request.labels", "request.labels has more than 32 labels")
	}
	for _, l := range b.Labels {
		if !health.SensitivityLabel(l).Known() {
			return nil, httpx.BadRequest("request.labels", "request.labels holds a code that is not an HL7 sensitivity label")
		}
		r.Labels = append(r.Labels, health.SensitivityLabel(l))
	}
	if b.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, b.Time)
		if err != nil || t.Year() < 1970 || t.Year() > 9999 {
			return nil, httpx.BadRequest("request.time", "request.time must be an RFC 3339 date-time")
		}
		r.Time = t.UTC()
	}
	return &r, nil
}

func parseDID(field, s string, required bool) (did.DID, error) {
	if s == "" {
		if required {
			return did.DID{}, httpx.BadRequest(field, field+" is required (a DID)")
		}
		return did.DID{}, nil
	}
	d, err := did.Parse(s)
	if err != nil || len(s) > 2048 {
		return did.DID{}, httpx.BadRequest(field, field+" must be a DID")
	}
	return d, nil
}

// paramValues decodes a search parameter's value: a string or an array of
// strings.
func paramValues(raw json.RawMessage) ([]string, bool) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, printable(one, maxText, true)
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil || len(many) == 0 || len(many) > maxParamValues {
		return nil, false
	}
	for _, v := range many {
		if !printable(v, maxText, true) {
			return nil, false
		}
	}
	return many, true
}

// printable reports whether s is at most max bytes of printable text (with
// spaces only if spaces).
func printable(s string, max int, spaces bool) bool {
	if len(s) > max {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsPrint(r) || (!spaces && unicode.IsSpace(r)) || r == unicode.ReplacementChar
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
