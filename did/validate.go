package did

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// checkPublicJWK checks that raw is a JSON object without private or
// symmetric key members.
func checkPublicJWK(raw json.RawMessage) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return errors.New("must be a JSON object")
	}
	// Members carrying private or symmetric key material (RFC 7518
	// §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2).
	for _, k := range [...]string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := m[k]; ok {
			return fmt.Errorf("contains private key material (%q)", k)
		}
	}
	return nil
}

// Validate checks d against DID Core 1.0: the id is a DID; controllers are
// DIDs; alsoKnownAs entries are URIs; every verification method (listed or
// embedded) has an id under the document's DID ("did:…#frag" or "#frag"),
// a type, a controller DID and at most one public key property, and no
// private key material; ids are unique across verification methods and
// services; references to the document's own verification methods resolve;
// services have a URI id, at least one type and a service endpoint. The
// error names the offending field, e.g. "verificationMethod[1].id: ...".
func (d *Document) Validate() error {
	docID, reason := parseDID(d.ID)
	if reason != "" {
		return fmt.Errorf("id: %s", reason)
	}
	if err := validateContext(d.Context); err != nil {
		return fmt.Errorf("@context: %w", err)
	}
	for i, c := range d.Controller {
		if _, reason := parseDID(c); reason != "" {
			return fmt.Errorf("controller[%d]: %s", i, reason)
		}
	}
	for i, a := range d.AlsoKnownAs {
		if !isURI(a) {
			return fmt.Errorf("alsoKnownAs[%d]: not a URI", i)
		}
	}

	// ids maps each absolute verification method and service id to the
	// field that defined it.
	ids := make(map[string]string, len(d.VerificationMethod)+len(d.Service))
	define := func(field, id string) error {
		abs := d.absolute(id)
		if prev, dup := ids[abs]; dup {
			return fmt.Errorf("%s.id: duplicate id (also %s)", field, prev)
		}
		ids[abs] = field
		return nil
	}
	for i, vm := range d.VerificationMethod {
		field := fmt.Sprintf("verificationMethod[%d]", i)
		if err := validateVM(docID, field, vm); err != nil {
			return err
		}
		if err := define(field, vm.ID); err != nil {
			return err
		}
	}
	rels := [...]struct {
		name string
		list []Relationship
	}{
		{Authentication, d.Authentication},
		{AssertionMethod, d.AssertionMethod},
		{KeyAgreement, d.KeyAgreement},
		{CapabilityInvocation, d.CapabilityInvocation},
		{CapabilityDelegation, d.CapabilityDelegation},
	}
	// Embedded methods first, so references may point at them.
	for _, rel := range rels {
		for j, r := range rel.list {
			if r.Embedded == nil {
				continue
			}
			field := fmt.Sprintf("%s[%d]", rel.name, j)
			if r.Reference != "" {
				return fmt.Errorf("%s: both a reference and an embedded verification method", field)
			}
			if err := validateVM(docID, field, *r.Embedded); err != nil {
				return err
			}
			if err := define(field, r.Embedded.ID); err != nil {
				return err
			}
		}
	}
	for _, rel := range rels {
		for j, r := range rel.list {
			if r.Embedded != nil {
				continue
			}
			field := fmt.Sprintf("%s[%d]", rel.name, j)
			local, err := validateReference(docID, r.Reference)
			if err != nil {
				return fmt.Errorf("%s: %w", field, err)
			}
			if _, ok := ids[d.absolute(r.Reference)]; local && !ok {
				return fmt.Errorf("%s: %q does not name a verification method of this document", field, r.Reference)
			}
		}
	}
	for i, s := range d.Service {
		field := fmt.Sprintf("service[%d]", i)
		if err := validateService(field, s); err != nil {
			return err
		}
		if err := define(field, s.ID); err != nil {
			return err
		}
	}
	return nil
}

// validateContext checks that a non-empty @context is a string or an array
// of strings and objects.
func validateContext(ctx json.RawMessage) error {
	if len(ctx) == 0 {
		return nil
	}
	ctx = bytes.TrimSpace(ctx)
	var s string
	if json.Unmarshal(ctx, &s) == nil {
		return nil
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(ctx, &arr); err != nil {
		return errors.New("must be a string or an array")
	}
	for i, e := range arr {
		if len(e) == 0 || (e[0] != '"' && e[0] != '{') {
			return fmt.Errorf("entry %d must be a string or an object", i)
		}
	}
	return nil
}

// validateFragmentRef checks a relative "#fragment" reference.
func validateFragmentRef(ref string) error {
	frag := ref[1:]
	if frag == "" {
		return errors.New("empty fragment")
	}
	if _, ok := checkURLPart(frag, true); !ok {
		return errors.New("invalid character in fragment")
	}
	return nil
}

// validateVM checks one verification method; field prefixes the error.
func validateVM(docID DID, field string, vm VerificationMethod) error {
	switch {
	case vm.ID == "":
		return fmt.Errorf("%s.id: missing", field)
	case strings.HasPrefix(vm.ID, "#"):
		if err := validateFragmentRef(vm.ID); err != nil {
			return fmt.Errorf("%s.id: %w", field, err)
		}
	default:
		u, err := ParseURL(vm.ID)
		if err != nil {
			return fmt.Errorf("%s.id: %w", field, err)
		}
		if u.DID != docID {
			return fmt.Errorf("%s.id: not a DID URL under the document id", field)
		}
		if u.Fragment == "" {
			return fmt.Errorf("%s.id: missing fragment", field)
		}
	}
	if vm.Type == "" {
		return fmt.Errorf("%s.type: missing", field)
	}
	if _, reason := parseDID(vm.Controller); reason != "" {
		return fmt.Errorf("%s.controller: %s", field, reason)
	}
	if len(vm.PublicKeyJwk) > 0 && vm.PublicKeyMultibase != "" {
		return fmt.Errorf("%s: both publicKeyJwk and publicKeyMultibase", field)
	}
	if len(vm.PublicKeyJwk) > 0 {
		if err := checkPublicJWK(vm.PublicKeyJwk); err != nil {
			return fmt.Errorf("%s.publicKeyJwk: %w", field, err)
		}
	}
	return nil
}

// validateReference checks a verification relationship reference: a
// "#fragment" or an absolute DID URL. local reports whether the reference
// points into the document with id docID.
func validateReference(docID DID, ref string) (local bool, err error) {
	if ref == "" {
		return false, errors.New("empty reference")
	}
	if strings.HasPrefix(ref, "#") {
		return true, validateFragmentRef(ref)
	}
	u, err := ParseURL(ref)
	if err != nil {
		return false, err
	}
	return u.DID == docID, nil
}

// validateService checks one service; field prefixes the error.
func validateService(field string, s Service) error {
	switch {
	case s.ID == "":
		return fmt.Errorf("%s.id: missing", field)
	case strings.HasPrefix(s.ID, "#"):
		if err := validateFragmentRef(s.ID); err != nil {
			return fmt.Errorf("%s.id: %w", field, err)
		}
	case !isURI(s.ID):
		return fmt.Errorf("%s.id: not a URI", field)
	}
	if len(s.Type) == 0 {
		return fmt.Errorf("%s.type: missing", field)
	}
	for i, t := range s.Type {
		if t == "" {
			return fmt.Errorf("%s.type[%d]: empty", field, i)
		}
	}
	if err := validateEndpoint(s.ServiceEndpoint); err != nil {
		return fmt.Errorf("%s.serviceEndpoint: %w", field, err)
	}
	return nil
}

// validateEndpoint checks a serviceEndpoint value: a URI string, an object,
// or a non-empty array of those.
func validateEndpoint(raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return errors.New("missing")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return errors.New("invalid string")
		}
		if !isURI(s) {
			return errors.New("not a URI")
		}
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return errors.New("invalid object")
		}
	case '[':
		var arr []json.RawMessage
		if err := json.Unmarshal(raw, &arr); err != nil {
			return errors.New("invalid array")
		}
		if len(arr) == 0 {
			return errors.New("empty array")
		}
		for i, e := range arr {
			if len(e) == 0 || e[0] == '[' {
				return fmt.Errorf("entry %d must be a URI or an object", i)
			}
			if err := validateEndpoint(e); err != nil {
				return fmt.Errorf("entry %d: %w", i, err)
			}
		}
	default:
		return errors.New("must be a URI, an object or an array")
	}
	return nil
}

// isURI reports whether s parses as an absolute URI (with a scheme).
func isURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != ""
}
