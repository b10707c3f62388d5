package did

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Names of the verification relationships of DID Core 1.0 §5.3, as used by
// Document.Authorized and in the JSON form of a document.
const (
	Authentication       = "authentication"
	AssertionMethod      = "assertionMethod"
	KeyAgreement         = "keyAgreement"
	CapabilityInvocation = "capabilityInvocation"
	CapabilityDelegation = "capabilityDelegation"
)

// defaultContext is the @context written for a Document whose Context is
// empty: the DID v1 context plus the contexts of the verification method
// types medid writes (Multikey and JsonWebKey2020).
const defaultContext = `["https://www.w3.org/ns/did/v1","https://w3id.org/security/multikey/v1","https://w3id.org/security/suites/jws-2020/v1"]`

// Document is a DID document (DID Core 1.0 §5) in its JSON(-LD)
// representation.
//
// Unmarshalling is strict about structure: member names match exactly
// (case-sensitively), a duplicated member is an error, and each property
// must have the JSON type DID Core gives it. Members this type does not
// model (extension properties) are dropped. Unmarshalling does not check
// the values; call Validate for that.
//
// Marshalling writes Context as given, or when it is empty the default
// ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1",
// "https://w3id.org/security/suites/jws-2020/v1"], so every document medid
// serves is valid JSON-LD. A Controller of exactly one DID is written as a
// string, otherwise as an array; relationships keep their shape (reference
// or embedded method).
type Document struct {
	// Context is the raw JSON value of @context (a string or an array).
	Context              json.RawMessage
	ID                   string
	Controller           []string
	AlsoKnownAs          []string
	VerificationMethod   []VerificationMethod
	Authentication       []Relationship
	AssertionMethod      []Relationship
	KeyAgreement         []Relationship
	CapabilityInvocation []Relationship
	CapabilityDelegation []Relationship
	Service              []Service
}

// VerificationMethod is a verification method (DID Core 1.0 §5.2). ID is a
// DID URL or, inside a document, a relative "#fragment" reference.
type VerificationMethod struct {
	ID                 string          `json:"id"`
	Type               string          `json:"type"`
	Controller         string          `json:"controller"`
	PublicKeyJwk       json.RawMessage `json:"publicKeyJwk,omitempty"`
	PublicKeyMultibase string          `json:"publicKeyMultibase,omitempty"`
}

// Relationship is one entry of a verification relationship: either a
// Reference to a verification method (a DID URL or "#fragment") or an
// Embedded verification method. Exactly one of the two is set.
type Relationship struct {
	Reference string
	Embedded  *VerificationMethod
}

// ID returns the id of the verification method the entry refers to or
// embeds.
func (r Relationship) ID() string {
	if r.Embedded != nil {
		return r.Embedded.ID
	}
	return r.Reference
}

// Service is a service (DID Core 1.0 §5.4). Type holds one or more types;
// ServiceEndpoint is the raw JSON value (a URL string, a map or an array of
// them).
type Service struct {
	ID              string
	Type            []string
	ServiceEndpoint json.RawMessage
}

// decodeObject calls fn for each member of the JSON object in data, in
// order. It rejects anything but a single object and duplicated member
// names.
func decodeObject(data []byte, fn func(key string, value json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("expected a JSON object")
	}
	seen := make(map[string]bool, 12)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return errors.New("expected a member name")
		}
		if seen[key] {
			return fmt.Errorf("duplicate member %q", key)
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		if err := fn(key, v); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

// isNull reports whether v is the JSON literal null.
func isNull(v json.RawMessage) bool { return string(v) == "null" }

// decodeString decodes a JSON string; null yields "".
func decodeString(v json.RawMessage, dst *string) error {
	if isNull(v) {
		return nil
	}
	if len(v) == 0 || v[0] != '"' {
		return errors.New("must be a string")
	}
	return json.Unmarshal(v, dst)
}

// decodeStrings decodes a JSON string or array of strings (or null).
func decodeStrings(v json.RawMessage, dst *[]string) error {
	if isNull(v) {
		return nil
	}
	if len(v) > 0 && v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		*dst = []string{s}
		return nil
	}
	if len(v) == 0 || v[0] != '[' {
		return errors.New("must be a string or an array of strings")
	}
	var ss []string
	if err := json.Unmarshal(v, &ss); err != nil {
		return errors.New("must be a string or an array of strings")
	}
	*dst = ss
	return nil
}

// decodeArray decodes a JSON array (or null) into dst.
func decodeArray[T any](v json.RawMessage, dst *[]T) error {
	if isNull(v) {
		return nil
	}
	if len(v) == 0 || v[0] != '[' {
		return errors.New("must be an array")
	}
	return json.Unmarshal(v, dst)
}

// UnmarshalJSON implements json.Unmarshaler; see Document for the rules.
func (d *Document) UnmarshalJSON(data []byte) error {
	*d = Document{}
	return decodeObject(data, func(key string, v json.RawMessage) error {
		var err error
		switch key {
		case "@context":
			if !isNull(v) {
				d.Context = append(json.RawMessage(nil), v...)
			}
		case "id":
			err = decodeString(v, &d.ID)
		case "controller":
			err = decodeStrings(v, &d.Controller)
		case "alsoKnownAs":
			err = decodeArray(v, &d.AlsoKnownAs)
		case "verificationMethod":
			err = decodeArray(v, &d.VerificationMethod)
		case Authentication:
			err = decodeArray(v, &d.Authentication)
		case AssertionMethod:
			err = decodeArray(v, &d.AssertionMethod)
		case KeyAgreement:
			err = decodeArray(v, &d.KeyAgreement)
		case CapabilityInvocation:
			err = decodeArray(v, &d.CapabilityInvocation)
		case CapabilityDelegation:
			err = decodeArray(v, &d.CapabilityDelegation)
		case "service":
			err = decodeArray(v, &d.Service)
		}
		if err != nil {
			return fmt.Errorf("did document: %s: %w", key, err)
		}
		return nil
	})
}

// MarshalJSON implements json.Marshaler; see Document for the rules.
func (d Document) MarshalJSON() ([]byte, error) {
	return d.appendJSON(make([]byte, 0, 1024))
}

// MarshalJSON implements json.Marshaler. publicKeyJwk and
// publicKeyMultibase are omitted when empty.
func (vm VerificationMethod) MarshalJSON() ([]byte, error) {
	return vm.appendJSON(make([]byte, 0, 256))
}

// UnmarshalJSON implements json.Unmarshaler with the same strictness as
// Document.UnmarshalJSON.
func (vm *VerificationMethod) UnmarshalJSON(data []byte) error {
	*vm = VerificationMethod{}
	return decodeObject(data, func(key string, v json.RawMessage) error {
		var err error
		switch key {
		case "id":
			err = decodeString(v, &vm.ID)
		case "type":
			err = decodeString(v, &vm.Type)
		case "controller":
			err = decodeString(v, &vm.Controller)
		case "publicKeyMultibase":
			err = decodeString(v, &vm.PublicKeyMultibase)
		case "publicKeyJwk":
			if isNull(v) {
				break
			}
			if len(v) == 0 || v[0] != '{' {
				err = errors.New("must be an object")
				break
			}
			vm.PublicKeyJwk = append(json.RawMessage(nil), v...)
		}
		if err != nil {
			return fmt.Errorf("verification method: %s: %w", key, err)
		}
		return nil
	})
}

// MarshalJSON implements json.Marshaler: a reference is written as a
// string, an embedded method as an object.
func (r Relationship) MarshalJSON() ([]byte, error) {
	return r.appendJSON(nil)
}

// UnmarshalJSON implements json.Unmarshaler: a string is a reference, an
// object an embedded verification method.
func (r *Relationship) UnmarshalJSON(data []byte) error {
	*r = Relationship{}
	switch {
	case len(data) > 0 && data[0] == '"':
		return json.Unmarshal(data, &r.Reference)
	case len(data) > 0 && data[0] == '{':
		var vm VerificationMethod
		if err := vm.UnmarshalJSON(data); err != nil {
			return err
		}
		r.Embedded = &vm
		return nil
	default:
		return errors.New("verification relationship entry must be a string or an object")
	}
}

// MarshalJSON implements json.Marshaler. A single type is written as a
// string, several as an array.
func (s Service) MarshalJSON() ([]byte, error) {
	return s.appendJSON(make([]byte, 0, 128))
}

// UnmarshalJSON implements json.Unmarshaler with the same strictness as
// Document.UnmarshalJSON.
func (s *Service) UnmarshalJSON(data []byte) error {
	*s = Service{}
	return decodeObject(data, func(key string, v json.RawMessage) error {
		var err error
		switch key {
		case "id":
			err = decodeString(v, &s.ID)
		case "type":
			err = decodeStrings(v, &s.Type)
		case "serviceEndpoint":
			if !isNull(v) {
				s.ServiceEndpoint = append(json.RawMessage(nil), v...)
			}
		}
		if err != nil {
			return fmt.Errorf("service: %s: %w", key, err)
		}
		return nil
	})
}

// absolute returns ref made absolute against the document id: a relative
// "#fragment" reference becomes id + ref; anything else is returned as is.
func (d *Document) absolute(ref string) string {
	if strings.HasPrefix(ref, "#") && d.ID != "" {
		return d.ID + ref
	}
	return ref
}

// relationship returns the entries of the named verification relationship.
func (d *Document) relationship(name string) ([]Relationship, bool) {
	switch name {
	case Authentication:
		return d.Authentication, true
	case AssertionMethod:
		return d.AssertionMethod, true
	case KeyAgreement:
		return d.KeyAgreement, true
	case CapabilityInvocation:
		return d.CapabilityInvocation, true
	case CapabilityDelegation:
		return d.CapabilityDelegation, true
	}
	return nil, false
}

// VerificationMethodByID returns the verification method with the given id,
// which may be absolute ("did:example:123#key-1") or relative to the
// document ("#key-1"). Methods listed in verificationMethod and methods
// embedded in a verification relationship are both found. The returned
// copy has an absolute ID.
func (d *Document) VerificationMethodByID(idOrFragment string) (VerificationMethod, bool) {
	want := d.absolute(idOrFragment)
	if want == "" {
		return VerificationMethod{}, false
	}
	for _, vm := range d.VerificationMethod {
		if d.absolute(vm.ID) == want {
			vm.ID = want
			return vm, true
		}
	}
	for _, rels := range [...][]Relationship{d.Authentication, d.AssertionMethod, d.KeyAgreement, d.CapabilityInvocation, d.CapabilityDelegation} {
		for _, r := range rels {
			if r.Embedded != nil && d.absolute(r.Embedded.ID) == want {
				vm := *r.Embedded
				vm.ID = want
				return vm, true
			}
		}
	}
	return VerificationMethod{}, false
}

// Authorized reports whether the verification method vmID (absolute or
// "#fragment") is listed, by reference or embedded, under the named
// verification relationship (Authentication, AssertionMethod, ...). An
// unknown relationship name is never authorized. Authorized does not check
// that a reference resolves; Validate does that for references into the
// document itself.
func (d *Document) Authorized(relationship string, vmID string) bool {
	rels, ok := d.relationship(relationship)
	if !ok {
		return false
	}
	want := d.absolute(vmID)
	if want == "" {
		return false
	}
	for _, r := range rels {
		if d.absolute(r.ID()) == want {
			return true
		}
	}
	return false
}

// serviceByID returns the service whose absolute id is id.
func (d *Document) serviceByID(id string) (Service, bool) {
	for _, s := range d.Service {
		if d.absolute(s.ID) == id {
			s.ID = id
			return s, true
		}
	}
	return Service{}, false
}

// Absolutize rewrites every relative "#fragment" id and reference in d
// (verification method ids, relationship references and embedded methods,
// service ids) into an absolute DID URL using d.ID. It does nothing when
// d.ID is empty.
//
// Absolutize never writes through the slices it finds in d: it replaces
// them with new ones, so it is safe on a shallow copy of a document that is
// shared with others (for example one returned by a Resolver).
func (d *Document) Absolutize() {
	if d.ID == "" {
		return
	}
	if d.VerificationMethod != nil {
		vms := make([]VerificationMethod, len(d.VerificationMethod))
		for i, vm := range d.VerificationMethod {
			vm.ID = d.absolute(vm.ID)
			vms[i] = vm
		}
		d.VerificationMethod = vms
	}
	for _, p := range []*[]Relationship{&d.Authentication, &d.AssertionMethod, &d.KeyAgreement, &d.CapabilityInvocation, &d.CapabilityDelegation} {
		if *p == nil {
			continue
		}
		rels := make([]Relationship, len(*p))
		for i, r := range *p {
			if r.Embedded != nil {
				vm := *r.Embedded
				vm.ID = d.absolute(vm.ID)
				r.Embedded = &vm
			} else {
				r.Reference = d.absolute(r.Reference)
			}
			rels[i] = r
		}
		*p = rels
	}
	if d.Service != nil {
		svcs := make([]Service, len(d.Service))
		for i, s := range d.Service {
			s.ID = d.absolute(s.ID)
			svcs[i] = s
		}
		d.Service = svcs
	}
}
