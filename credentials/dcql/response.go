package dcql

import (
	"encoding/json"
	"fmt"
	"slices"
)

// MaxVPTokenLength is the longest vp_token ParseVPToken accepts, in bytes.
const MaxVPTokenLength = 4 << 20

// VPToken is the vp_token response parameter (OpenID4VP section 8.1):
// for each answered Credential Query ID, one or more presentations, each
// kept as its JSON text (a JSON string for dc+sd-jwt, jwt_vc_json and
// mso_mdoc; an object for ldp_vc).
type VPToken map[string][]json.RawMessage

// ParseVPToken parses a vp_token strictly: a JSON object (no duplicate
// members) whose members are named by valid Credential Query IDs and whose
// values are non-empty arrays of non-empty strings or objects. It does not
// look at the query; see Query.CheckResponse. Errors wrap
// ErrInvalidVPToken and never quote presentations.
func ParseVPToken(data []byte) (VPToken, error) {
	bad := func(path, msg string) error {
		return &Error{Kind: ErrInvalidVPToken, Problems: []Problem{{path, msg}}}
	}
	if len(data) > MaxVPTokenLength {
		return nil, bad("", fmt.Sprintf("longer than %d bytes", MaxVPTokenLength))
	}
	v, err := decodeJSON(data)
	if err != nil {
		return nil, bad("", "not valid JSON: "+err.Error())
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, bad("", "must be a JSON object keyed by Credential Query id")
	}
	if len(obj) == 0 {
		return nil, bad("", "must not be empty")
	}
	var c collector
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		pv := obj[k]
		if !IsValidID(k) {
			c.add("", "a member name is not a valid Credential Query id")
			continue
		}
		arr, ok := pv.([]any)
		switch {
		case !ok:
			c.add(k, "must be an array of presentations")
			continue
		case len(arr) == 0:
			c.add(k, "must not be empty")
			continue
		case len(arr) > MaxItems:
			c.add(k, fmt.Sprintf("must have at most %d presentations", MaxItems))
			continue
		}
		for i, p := range arr {
			switch p := p.(type) {
			case string:
				if p == "" {
					c.add(idx(k, i), "empty presentation")
				}
			case map[string]any:
			default:
				c.add(idx(k, i), "a presentation must be a string or an object")
			}
		}
	}
	if err := c.err(ErrInvalidVPToken); err != nil {
		return nil, err
	}
	var tok VPToken
	if err := json.Unmarshal(data, &tok); err != nil {
		return nil, bad("", "not valid JSON")
	}
	return tok, nil
}

// PresentationString returns a string-encoded presentation (an SD-JWT, a
// JWT or a base64url mdoc DeviceResponse) as a Go string, or false if p is
// not a JSON string.
func PresentationString(p json.RawMessage) (string, bool) {
	var s string
	if len(p) == 0 || p[0] != '"' || json.Unmarshal(p, &s) != nil {
		return "", false
	}
	return s, true
}

// CheckResponse checks that a vp_token answers q (OpenID4VP sections 6.4.2
// and 8.1): every entry names a Credential Query that was requested; an
// entry holds one presentation unless its query allows multiple; each
// presentation is a string or an object as its format requires; and every
// Credential Query is answered (without credential sets) or every required
// credential set has an option all of whose queries are answered.
//
// It does not verify the presentations. After verifying each, check what
// it disclosed with CheckPresentation. Errors wrap ErrResponseMismatch.
func (q *Query) CheckResponse(tok VPToken) error {
	var c collector
	requested := map[string]bool{}
	for _, s := range q.CredentialSets {
		for _, o := range s.Options {
			for _, id := range o {
				requested[id] = true
			}
		}
	}
	ids := make([]string, 0, len(tok))
	for id := range tok {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		ps := tok[id]
		cq := q.Credential(id)
		if cq == nil {
			if IsValidID(id) {
				c.add("vp_token."+id, "names no Credential Query of the request")
			} else {
				c.add("vp_token", "an entry names no Credential Query of the request")
			}
			continue
		}
		p := "vp_token." + id
		if len(q.CredentialSets) > 0 && !requested[id] {
			c.add(p, "this Credential Query is in no credential set, so it was not requested")
		}
		switch {
		case len(ps) == 0:
			c.add(p, "no presentation")
		case len(ps) > 1 && !cq.Multiple:
			c.add(p, "more than one presentation, but the Credential Query does not allow multiple")
		}
		for i, pr := range ps {
			_, isString := PresentationString(pr)
			isObject := len(pr) > 0 && pr[0] == '{'
			switch {
			case cq.Format.StringPresentation() && !isString:
				c.add(idx(p, i), "a "+string(cq.Format)+" presentation must be a JSON string")
			case !cq.Format.StringPresentation() && !isObject:
				c.add(idx(p, i), "a "+string(cq.Format)+" presentation must be a JSON object")
			}
		}
	}
	if len(q.CredentialSets) == 0 {
		for _, cq := range q.Credentials {
			if len(tok[cq.ID]) == 0 {
				c.add("vp_token", "Credential Query "+cq.ID+" is not answered")
			}
		}
	} else {
		for i, s := range q.CredentialSets {
			if !s.Required {
				continue
			}
			met := slices.ContainsFunc(s.Options, func(o []string) bool {
				return !slices.ContainsFunc(o, func(id string) bool { return len(tok[id]) == 0 })
			})
			if !met {
				c.add(idx("credential_sets", i), "required, but no option is fully answered")
			}
		}
	}
	return c.err(ErrResponseMismatch)
}
