package health

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// The credential type names. Each is also the type's JSON-LD term, its
// SD-JWT VC vct suffix and its JSON Schema file name.
const (
	TypePatientIdentity = "PatientIdentityCredential"
	TypeHealthConsent   = "HealthConsentCredential"
	TypePractitioner    = "PractitionerCredential"
	TypeOrganization    = "OrganizationCredential"
)

// Vocabulary is the IRI prefix of medid's health vocabulary: every claim of
// these types is a term of it in the JSON-LD context (except name, which
// is https://schema.org/name as in the VC Data Model 2.0 context).
const Vocabulary = "https://w3id.org/medid/vocab#"

// ContextPath is the path, under the issuer's base URL, at which the
// JSON-LD context of every type here is served.
const ContextPath = "/contexts/health-v1.jsonld"

// Credential is the claims of one credential of a type defined here:
// *PatientIdentityCredential, *HealthConsentCredential,
// *PractitionerCredential or *OrganizationCredential.
type Credential interface {
	// CredentialType returns the type's name, e.g.
	// "PatientIdentityCredential".
	CredentialType() string
	// ValidateAt checks every claim, with now as the current time, and
	// returns nil or a ValidationErrors.
	ValidateAt(now time.Time) error
}

// Disclosure says whether an SD-JWT VC issuer makes a claim selectively
// disclosable (draft-ietf-oauth-sd-jwt-vc, claim metadata "sd").
type Disclosure string

// The selective disclosure policies.
const (
	DiscloseAlways  Disclosure = "always"  // the issuer must make the claim selectively disclosable
	DiscloseAllowed Disclosure = "allowed" // the issuer may
	DiscloseNever   Disclosure = "never"   // the issuer must not
)

// Claim describes one claim, or one member of a claim, of a credential
// type.
type Claim struct {
	// Path selects the claim as an SD-JWT VC claim path: member names,
	// and nil for every element of an array (["identifiers", nil,
	// "system"]).
	Path []any
	// Label and Description are the claim's English display text.
	Label       string
	Description string
	// SD is the claim's selective disclosure policy. Members of a claim
	// whose policy is never are never disclosable either.
	SD Disclosure
	// Mandatory says the claim is present in every valid credential of
	// the type.
	Mandatory bool
}

// Type describes a credential type.
type Type struct {
	// Name is the type's name, e.g. "PatientIdentityCredential".
	Name string
	// Label and Description are the type's English display text.
	Label       string
	Description string
	// Claims describes every claim and claim member, top-level claims in
	// JSON order, each followed by its members.
	Claims []Claim
}

// VCTPath returns the path of the type's SD-JWT VC type under the issuer's
// base URL: "/vct/<Name>".
func (t Type) VCTPath() string { return "/vct/" + t.Name }

// VCT returns the type's SD-JWT VC type (vct) for an issuer at baseURL, e.g.
// "https://medid.example/vct/PatientIdentityCredential". baseURL is the
// issuer's configured public base URL; a trailing "/" is ignored.
func (t Type) VCT(baseURL string) string { return strings.TrimRight(baseURL, "/") + t.VCTPath() }

// SchemaPath returns the path under the issuer's base URL at which the
// type's JSON Schema is served: "/schemas/<Name>.json". It is also the
// schema's $id, a reference relative to the URL the schema is served from.
func (t Type) SchemaPath() string { return "/schemas/" + t.Name + ".json" }

// NeverDisclosable returns the names of the top-level claims that an
// SD-JWT VC issuer must not make selectively disclosable.
//
// The policy per type: a PatientIdentityCredential discloses every
// personal claim selectively, and only assurance_level (which qualifies
// the whole credential and says nothing about the patient) never. Every
// claim of a HealthConsentCredential is never selectively disclosable,
// because the consent is an access-control policy and hiding a claim can
// widen it. A PractitionerCredential's licence and role are never
// selectively disclosable (they are what a verifier relies on; hiding
// licence.expires would hide an expired licence), while the name and
// identifiers always are. An OrganizationCredential describes an
// organization, not a person, so nothing in it is selectively disclosable.
func (t Type) NeverDisclosable() []string {
	var out []string
	for _, c := range t.Claims {
		if len(c.Path) == 1 && c.SD == DiscloseNever {
			out = append(out, c.Path[0].(string))
		}
	}
	return out
}

func (t Type) clone() Type {
	t.Claims = slices.Clone(t.Claims)
	for i := range t.Claims {
		t.Claims[i].Path = slices.Clone(t.Claims[i].Path)
	}
	return t
}

//go:embed schemas/*.json contexts/health-v1.jsonld
var files embed.FS

type typeDef struct {
	Type
	new    func() Credential
	schema []byte
}

var registry = func() []typeDef {
	defs := []typeDef{
		{Type: patientType, new: func() Credential { return new(PatientIdentityCredential) }},
		{Type: consentType, new: func() Credential { return new(HealthConsentCredential) }},
		{Type: practitionerType, new: func() Credential { return new(PractitionerCredential) }},
		{Type: organizationType, new: func() Credential { return new(OrganizationCredential) }},
	}
	for i := range defs {
		b, err := files.ReadFile("schemas/" + defs[i].Name + ".json")
		if err != nil {
			panic(err)
		}
		defs[i].schema = b
	}
	return defs
}()

var jsonldContext = func() []byte {
	b, err := files.ReadFile("contexts/health-v1.jsonld")
	if err != nil {
		panic(err)
	}
	return b
}()

func lookup(name string) *typeDef {
	for i := range registry {
		if registry[i].Name == name {
			return &registry[i]
		}
	}
	return nil
}

// Types returns every credential type this package defines.
func Types() []Type {
	out := make([]Type, len(registry))
	for i, d := range registry {
		out[i] = d.clone()
	}
	return out
}

// LookupType returns the credential type called name.
func LookupType(name string) (Type, bool) {
	d := lookup(name)
	if d == nil {
		return Type{}, false
	}
	return d.clone(), true
}

// Schema returns the JSON Schema (draft 2020-12) of the credential type
// called name, or nil if there is no such type. Its $id is the type's
// SchemaPath, relative to the URL the issuer serves it from.
//
// The schema describes a credential's claims with every selectively
// disclosable claim disclosed: the processed payload of an SD-JWT VC
// (where the SD-JWT VC claims iss, sub, iat, nbf, exp, cnf, vct,
// vct#integrity and status may also appear) or a VCDM credentialSubject
// (which may also have an id). It is for others' tools: Decode, not the
// schema, is the authority, and it checks what a schema cannot (check
// digits, real dates, SMART scope grammar, valid_from < valid_until).
func Schema(name string) []byte {
	d := lookup(name)
	if d == nil {
		return nil
	}
	return slices.Clone(d.schema)
}

// JSONLDContext returns the JSON-LD 1.1 context of every credential type
// here, served at ContextPath. It is @protected and defines every claim
// and claim member as a term (under Vocabulary, except name, which is
// schema.org's as in the VC Data Model 2.0 context), so that JSON-LD
// processing needs nothing but it and the VC Data Model 2.0 context, and
// no network.
func JSONLDContext() []byte { return slices.Clone(jsonldContext) }

// TypeMetadata returns the SD-JWT VC type metadata of the credential type
// called name for an issuer at baseURL, or nil if there is no such type.
//
// It follows draft-ietf-oauth-sd-jwt-vc (Type Metadata): vct, name,
// description, display and claims (path, display, sd, mandatory). Display
// entries carry the language tag as both locale (draft 12 on) and lang
// (earlier drafts), and claim display entries a label, so that wallets on
// either side of that rename read them. schema_uri and its
// schema_uri#integrity (the SRI sha256 of Schema(name)) point to the JSON
// Schema; recent drafts dropped these members, and consumers ignore
// members they do not know.
func TypeMetadata(name, baseURL string) []byte {
	d := lookup(name)
	if d == nil {
		return nil
	}
	base := strings.TrimRight(baseURL, "/")
	sum := sha256.Sum256(d.schema)
	md := typeMetadata{
		VCT:         d.VCT(base),
		Name:        d.Name,
		Description: d.Description,
		Display: []typeDisplay{{
			Locale: "en", Lang: "en", Name: d.Label, Description: d.Description,
		}},
		SchemaURI:          base + d.SchemaPath(),
		SchemaURIIntegrity: "sha256-" + base64.StdEncoding.EncodeToString(sum[:]),
	}
	for _, c := range d.Claims {
		md.Claims = append(md.Claims, claimMetadata{
			Path: c.Path,
			Display: []claimDisplay{{
				Locale: "en", Lang: "en", Label: c.Label, Description: c.Description,
			}},
			SD:        c.SD,
			Mandatory: c.Mandatory,
		})
	}
	b, err := json.MarshalIndent(md, "", "  ")
	if err != nil {
		panic(err) // plain strings, bools and slices always marshal
	}
	return b
}

type typeMetadata struct {
	VCT                string          `json:"vct"`
	Name               string          `json:"name"`
	Description        string          `json:"description"`
	Display            []typeDisplay   `json:"display"`
	Claims             []claimMetadata `json:"claims"`
	SchemaURI          string          `json:"schema_uri"`
	SchemaURIIntegrity string          `json:"schema_uri#integrity"`
}

type typeDisplay struct {
	Locale      string `json:"locale"`
	Lang        string `json:"lang"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

type claimMetadata struct {
	Path      []any          `json:"path"`
	Display   []claimDisplay `json:"display"`
	SD        Disclosure     `json:"sd"`
	Mandatory bool           `json:"mandatory"`
}

type claimDisplay struct {
	Locale      string `json:"locale"`
	Lang        string `json:"lang"`
	Label       string `json:"label"`
	Description string `json:"description,omitempty"`
}

// Decode is DecodeAt(name, claims, time.Now()).
func Decode(name string, claims map[string]any) (Credential, error) {
	return DecodeAt(name, claims, time.Now())
}

// DecodeAt decodes claims, as encoding/json decodes a JSON object into a
// map[string]any, into the credential type called name and validates it
// with now as the current time. It returns a pointer to the type's struct
// (*PatientIdentityCredential, ...).
//
// Decoding is strict: a claim or member the type does not define, a value
// of the wrong JSON type, a null and an empty string are refused, each
// reported with its JSON path in a ValidationErrors, followed by the
// validation errors of the claims that did decode. The
// claims are the credential's own: the format's envelope (vct, iss, cnf,
// @context, ...) must be removed first. An unknown type name is an error
// wrapping ErrUnknownType.
func DecodeAt(name string, claims map[string]any, now time.Time) (Credential, error) {
	d := lookup(name)
	if d == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, name)
	}
	cred := d.new()
	var c collector
	decodeStrict(&c, "", claims, reflect.ValueOf(cred).Elem())
	decodeErrs := c.list
	if err := cred.ValidateAt(now); err != nil {
		// Report the validation errors too, except those about claims
		// that failed to decode (which would only repeat them as
		// "required").
		for _, ve := range err.(ValidationErrors) {
			if !under(ve.Field, decodeErrs) {
				c.list = append(c.list, ve)
			}
		}
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	return cred, nil
}

// under reports whether the JSON path field is, or is inside, the field of
// one of errs.
func under(field string, errs ValidationErrors) bool {
	for _, e := range errs {
		if e.Field == "(claims)" || field == e.Field ||
			strings.HasPrefix(field, e.Field+".") || strings.HasPrefix(field, e.Field+"[") {
			return true
		}
	}
	return false
}
