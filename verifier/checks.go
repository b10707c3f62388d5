package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/medid/medid/credentials/status/bitstring"
	"github.com/medid/medid/credentials/status/tokenlist"
	"github.com/medid/medid/verifier/statuscheck"
)

// statusRef is one status entry of a credential.
type statusRef struct {
	token   bool // Token Status List; otherwise Bitstring Status List
	uri     string
	idx     int
	purpose bitstring.Purpose
}

// tokenStatusRef reads a "status": {"status_list": {"idx", "uri"}} claim
// value.
func tokenStatusRef(v any) ([]statusRef, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("status is not an object")
	}
	sl, ok := m["status_list"]
	if !ok {
		return nil, errors.New("status has no status_list (no other status mechanism is supported)")
	}
	l, ok := sl.(map[string]any)
	if !ok {
		return nil, errors.New("status.status_list is not an object")
	}
	uri, ok := l["uri"].(string)
	if !ok || uri == "" {
		return nil, errors.New("status.status_list.uri is not a string")
	}
	idx, ok := nonNegInt(l["idx"])
	if !ok {
		return nil, errors.New("status.status_list.idx is not a non-negative integer")
	}
	return []statusRef{{token: true, uri: uri, idx: idx}}, nil
}

func nonNegInt(v any) (int, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case float64:
		if x < 0 || x != float64(int64(x)) || x > 1<<31 {
			return 0, false
		}
		return int(x), true
	default:
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return 0, false
	}
	return int(n), true
}

// credentialStatusRefs reads a W3C credentialStatus value: an entry or an
// array of entries, each a BitstringStatusListEntry.
func credentialStatusRefs(v any) ([]statusRef, error) {
	var list []any
	switch x := v.(type) {
	case map[string]any:
		list = []any{x}
	case []any:
		list = x
	default:
		return nil, errors.New("credentialStatus is neither an object nor an array")
	}
	if len(list) > 8 {
		return nil, errors.New("more than 8 credentialStatus entries")
	}
	var out []statusRef
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("credentialStatus[%d] is not an object", i)
		}
		if m["type"] != bitstring.EntryType {
			return nil, fmt.Errorf("credentialStatus[%d] has a type other than %s, which is not supported", i, bitstring.EntryType)
		}
		uri, _ := m["statusListCredential"].(string)
		purpose, _ := m["statusPurpose"].(string)
		idxs, _ := m["statusListIndex"].(string)
		idx, err := bitstring.ParseIndex(idxs)
		if uri == "" || purpose == "" || err != nil {
			return nil, fmt.Errorf("credentialStatus[%d] needs statusListCredential, statusPurpose and a statusListIndex", i)
		}
		out = append(out, statusRef{uri: uri, idx: idx, purpose: bitstring.Purpose(purpose)})
	}
	return out, nil
}

// finish runs the status, schema and issuer_trust checks of a credential
// whose signature and validity passed, filling vc.status.
func (v *Verifier) finish(ctx context.Context, vc *Verified, refs []statusRef, refErr error, partial bool, cl *checklist) {
	v.checkStatus(ctx, vc, refs, refErr, cl)
	if name, ok := healthType(vc.types); ok {
		if ok, reason := checkSchema(name, vc.claims, partial, v.now()); ok {
			cl.pass(CheckSchema, "claims conform to "+name)
		} else {
			cl.fail(CheckSchema, reason)
		}
	} else {
		cl.na(CheckSchema, "no schema is known for the credential's types")
	}
	ok, reason, err := v.opt.Trust.Trusted(ctx, vc.issuer, vc.types)
	switch {
	case err != nil:
		cl.fail(CheckIssuerTrust, "the trusted issuer lists could not be read")
	case ok:
		cl.pass(CheckIssuerTrust, reason)
	default:
		cl.fail(CheckIssuerTrust, reason)
	}
}

func (v *Verifier) checkStatus(ctx context.Context, vc *Verified, refs []statusRef, refErr error, cl *checklist) {
	if refErr != nil {
		cl.fail(CheckStatus, "malformed status entry: "+refErr.Error())
		return
	}
	if len(refs) == 0 {
		vc.status = StatusNone
		cl.na(CheckStatus, "the credential has no status entry")
		return
	}
	vc.status = StatusValid
	for _, r := range refs {
		var bad string
		var err error
		if r.token {
			var s uint8
			s, err = v.status.TokenStatus(ctx, r.uri, r.idx, vc.issuer)
			switch {
			case err != nil:
			case s == tokenlist.Invalid:
				bad = "revoked"
			case s == tokenlist.Suspended:
				bad = "suspended"
			case s != tokenlist.Valid:
				bad = fmt.Sprintf("status value 0x%02x is not VALID", s)
			}
		} else {
			var set bool
			set, err = v.status.BitstringStatus(ctx, r.uri, r.purpose, r.idx, vc.issuer)
			if err == nil && set {
				bad = map[bitstring.Purpose]string{bitstring.Revocation: "revoked", bitstring.Suspension: "suspended"}[r.purpose]
			}
		}
		switch {
		case errors.Is(err, statuscheck.ErrUnreachable) && v.opt.StatusUnreachable == FailOpen:
			vc.status = StatusUnknown
		case err != nil:
			cl.fail(CheckStatus, err.Error())
			return
		case bad != "":
			cl.fail(CheckStatus, "the credential is "+bad)
			return
		}
	}
	if vc.status == StatusUnknown {
		cl.pass(CheckStatus, "a status list is unreachable; accepted by the fail-open policy")
		return
	}
	cl.pass(CheckStatus, "valid")
}
