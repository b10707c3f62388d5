package health

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const testBase = "https://medid.example"

// goType returns the claims struct type of the credential type name.
func goType(t testing.TB, name string) reflect.Type {
	t.Helper()
	d := lookup(name)
	if d == nil {
		t.Fatalf("no type %q", name)
	}
	return reflect.TypeOf(d.new()).Elem()
}

// isLeaf reports whether values of t are JSON scalars (strings, booleans)
// rather than objects whose members are claims.
func isLeaf(t reflect.Type) bool {
	return t == timeType || reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) || t.Kind() != reflect.Struct
}

// structPaths lists the SD-JWT VC claim paths of every claim and claim
// member of struct type t, as JSON strings (`["identifiers",null,"type"]`).
func structPaths(t reflect.Type, prefix []any) []string {
	var out []string
	for name, i := range jsonFields(t) {
		p := append(slices.Clone(prefix), name)
		b, _ := json.Marshal(p)
		out = append(out, string(b))
		ft := t.Field(i).Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Slice && !isLeaf(ft.Elem()):
			out = append(out, structPaths(ft.Elem(), append(p, nil))...)
		case ft.Kind() != reflect.Slice && !isLeaf(ft):
			out = append(out, structPaths(ft, p)...)
		}
	}
	sort.Strings(out)
	return out
}

func TestTypes(t *testing.T) {
	var names []string
	for _, typ := range Types() {
		names = append(names, typ.Name)
	}
	want := []string{TypePatientIdentity, TypeHealthConsent, TypePractitioner, TypeOrganization}
	if !slices.Equal(names, want) {
		t.Fatalf("Types() = %q", names)
	}
	// Types returns copies.
	ts := Types()
	ts[0].Claims[0].Path[0] = "changed"
	ts[0].Name = "changed"
	if typ, _ := LookupType(TypePatientIdentity); typ.Claims[0].Path[0] != "given_name" {
		t.Fatal("Types() shares the registry's claim paths")
	}
	if _, ok := LookupType("Nope"); ok {
		t.Fatal("LookupType found an unknown type")
	}
	typ, _ := LookupType(TypeHealthConsent)
	if got := typ.VCT(testBase + "/"); got != testBase+"/vct/HealthConsentCredential" {
		t.Errorf("VCT = %q", got)
	}
	if typ.SchemaPath() != "/schemas/HealthConsentCredential.json" || typ.VCTPath() != "/vct/HealthConsentCredential" {
		t.Errorf("paths %q %q", typ.SchemaPath(), typ.VCTPath())
	}
}

func TestNeverDisclosable(t *testing.T) {
	for name, want := range map[string][]string{
		TypePatientIdentity: {"assurance_level"},
		TypeHealthConsent:   {"patient", "grantee", "scopes", "purposes", "valid_from", "valid_until", "excluded_labels", "delegable"},
		TypePractitioner:    {"licence", "role"},
		TypeOrganization:    {"name", "identifiers", "role", "address"},
	} {
		typ, _ := LookupType(name)
		if got := typ.NeverDisclosable(); !slices.Equal(got, want) {
			t.Errorf("%s.NeverDisclosable() = %q, want %q", name, got, want)
		}
	}
}

// TestClaimTables checks each type's claim table against its struct: every
// claim and member is described, in both the table and the type metadata,
// and "mandatory" agrees with what validation requires.
func TestClaimTables(t *testing.T) {
	for _, typ := range Types() {
		t.Run(typ.Name, func(t *testing.T) {
			want := structPaths(goType(t, typ.Name), nil)
			var got []string
			for _, c := range typ.Claims {
				b, _ := json.Marshal(c.Path)
				got = append(got, string(b))
				switch c.SD {
				case DiscloseAlways, DiscloseAllowed, DiscloseNever:
				default:
					t.Errorf("%s: sd %q", b, c.SD)
				}
				if c.Label == "" || c.Description == "" {
					t.Errorf("%s: no display text", b)
				}
			}
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Fatalf("claim table paths\n got %q\nwant %q", got, want)
			}
			// Top-level mandatory claims: removing one from a valid
			// credential makes it invalid; removing an optional one does
			// not. (delegable is mandatory for issuers, who always emit it,
			// but a missing delegable decodes as false.)
			for _, c := range typ.Claims {
				if len(c.Path) != 1 {
					continue
				}
				name := c.Path[0].(string)
				m := claimsOf(t, typ.Name)
				if _, ok := m[name]; !ok {
					continue
				}
				delete(m, name)
				_, err := DecodeAt(typ.Name, m, testNow)
				if c.Mandatory && err == nil && name != "delegable" {
					t.Errorf("%s is mandatory but a credential without it is valid", name)
				}
				if !c.Mandatory && err != nil {
					t.Errorf("%s is optional but a credential without it is invalid: %v", name, err)
				}
			}
		})
	}
}

func TestTypeMetadata(t *testing.T) {
	if TypeMetadata("Nope", testBase) != nil {
		t.Fatal("metadata for an unknown type")
	}
	for _, typ := range Types() {
		t.Run(typ.Name, func(t *testing.T) {
			raw := TypeMetadata(typ.Name, testBase+"/")
			var md struct {
				VCT         string `json:"vct"`
				Name        string `json:"name"`
				Description string `json:"description"`
				Display     []struct {
					Locale, Lang, Name, Description string
				} `json:"display"`
				Claims []struct {
					Path    []any `json:"path"`
					Display []struct {
						Locale, Lang, Label, Description string
					} `json:"display"`
					SD        string `json:"sd"`
					Mandatory *bool  `json:"mandatory"`
				} `json:"claims"`
				SchemaURI          string `json:"schema_uri"`
				SchemaURIIntegrity string `json:"schema_uri#integrity"`
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&md); err != nil {
				t.Fatalf("metadata is not the expected JSON: %v\n%s", err, raw)
			}
			if md.VCT != testBase+"/vct/"+typ.Name || md.Name != typ.Name || md.Description == "" {
				t.Errorf("vct %q name %q", md.VCT, md.Name)
			}
			if len(md.Display) != 1 || md.Display[0].Locale != "en" || md.Display[0].Lang != "en" || md.Display[0].Name == "" {
				t.Errorf("display %+v", md.Display)
			}
			if md.SchemaURI != testBase+"/schemas/"+typ.Name+".json" {
				t.Errorf("schema_uri %q", md.SchemaURI)
			}
			sum := sha256.Sum256(Schema(typ.Name))
			if md.SchemaURIIntegrity != "sha256-"+base64.StdEncoding.EncodeToString(sum[:]) {
				t.Errorf("schema_uri#integrity %q", md.SchemaURIIntegrity)
			}
			var paths []string
			sd := map[string]string{}
			for _, c := range md.Claims {
				b, _ := json.Marshal(c.Path)
				paths = append(paths, string(b))
				sd[string(b)] = c.SD
				if len(c.Display) != 1 || c.Display[0].Locale != "en" || c.Display[0].Lang != "en" || c.Display[0].Label == "" {
					t.Errorf("%s: display %+v", b, c.Display)
				}
				if c.Mandatory == nil {
					t.Errorf("%s: no mandatory", b)
				}
				for _, p := range c.Path {
					if s, ok := p.(string); p != nil && (!ok || s == "") {
						t.Errorf("%s: bad path element %v", b, p)
					}
				}
			}
			sort.Strings(paths)
			if want := structPaths(goType(t, typ.Name), nil); !slices.Equal(paths, want) {
				t.Errorf("claim paths\n got %q\nwant %q", paths, want)
			}
			// Members of a never-disclosable claim are never disclosable.
			for p, v := range sd {
				var path []any
				_ = json.Unmarshal([]byte(p), &path)
				top, _ := json.Marshal(path[:1])
				if sd[string(top)] == "never" && v != "never" {
					t.Errorf("%s is %q under a never-disclosable claim", p, v)
				}
			}
		})
	}
}

// compileSchema compiles the embedded schema of name as if served from
// testBase.
func compileSchema(t testing.TB, name string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema(name)))
	if err != nil {
		t.Fatalf("schema %s is not JSON: %v", name, err)
	}
	loc := testBase + "/schemas/" + name + ".json"
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(loc, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		t.Fatalf("schema %s does not compile: %v", name, err)
	}
	return sch
}

func schemaValidate(t testing.TB, sch *jsonschema.Schema, claims map[string]any) error {
	t.Helper()
	b, _ := json.Marshal(claims)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return sch.Validate(inst)
}

func TestSchemas(t *testing.T) {
	if Schema("Nope") != nil {
		t.Fatal("schema for an unknown type")
	}
	invalid := map[string][]mutation{
		TypePatientIdentity: {
			{path: "birthdate", value: "1990/01/01"},
			{path: "gender", value: "f"},
			{path: "identifiers", value: []any{}},
			{path: "identifiers.0.type", value: "NPI"},
			{path: "identifiers.0.system", value: NPISystem},
			{path: "identifiers.0.system", value: "not a uri"},
			{path: "identifiers.0.value", value: " x"},
			{path: "identifiers.0.extra", value: "x"},
			{path: "address", value: map[string]any{}},
			{path: "address.locality", value: "a\nb"},
			{path: "assurance_level", value: "IAL2"},
			{path: "email", value: "x@example.com"},
			{path: "given_name", value: ""},
		},
		TypeHealthConsent: {
			{path: "patient", value: "not-a-did"},
			{path: "grantee.kind", value: "hospital"},
			{path: "scopes", value: []any{}},
			{path: "scopes.1", value: "patient/Observation.sr"},
			{path: "scopes.1", value: "patient/Observation."},
			{path: "scopes.1", value: "user/Observation.rs"},
			{path: "scopes.1", value: "patient/Observation.rs"},
			{path: "purposes.0", value: "TREATX"},
			{path: "valid_from", value: "2026-01-01"},
			{path: "excluded_labels.0", value: "XYZ"},
			{path: "delegable", value: "no"},
		},
		TypePractitioner: {
			{path: "identifiers.0.value", value: "12345"},
			{path: "identifiers.0.system", value: "https://npi.example"},
			{path: "identifiers.1.system", value: NPISystem},
			{path: "licence.jurisdiction", value: "california"},
			{path: "licence.expires", value: "2027-13-01"},
			{path: "role.code", value: "a b"},
			{path: "role", value: map[string]any{"code": "x"}},
		},
		TypeOrganization: {
			{path: "role", value: "school"},
			{path: "identifiers.0.type", value: "MRN"},
			{path: "name", value: deleted},
		},
	}
	for _, typ := range Types() {
		t.Run(typ.Name, func(t *testing.T) {
			sch := compileSchema(t, typ.Name)
			if err := schemaValidate(t, sch, claimsOf(t, typ.Name)); err != nil {
				t.Fatalf("schema rejects the valid example: %v", err)
			}
			// What Go emits for a decoded valid credential is valid too.
			cred, err := DecodeAt(typ.Name, claimsOf(t, typ.Name), testNow)
			if err != nil {
				t.Fatal(err)
			}
			var emitted map[string]any
			b, _ := json.Marshal(cred)
			_ = json.Unmarshal(b, &emitted)
			if err := schemaValidate(t, sch, emitted); err != nil {
				t.Fatalf("schema rejects Go's encoding of the valid example: %v", err)
			}
			// Envelope claims are allowed.
			withEnvelope := claimsOf(t, typ.Name)
			withEnvelope["vct"] = typ.VCT(testBase)
			withEnvelope["iss"] = testBase
			withEnvelope["iat"] = 1767225600
			withEnvelope["cnf"] = map[string]any{"jwk": map[string]any{}}
			if err := schemaValidate(t, sch, withEnvelope); err != nil {
				t.Fatalf("schema rejects SD-JWT VC envelope claims: %v", err)
			}
			for _, tc := range invalid[typ.Name] {
				m := claimsOf(t, typ.Name)
				mutate(t, m, tc.path, tc.value)
				if err := schemaValidate(t, sch, m); err == nil {
					t.Errorf("schema accepts %s=%v", tc.path, tc.value)
				}
				if _, err := DecodeAt(typ.Name, m, testNow); err == nil {
					t.Errorf("Decode accepts %s=%v, which the schema refuses", tc.path, tc.value)
				}
			}
		})
	}
}

// TestSchemaShape checks that each schema's $id, properties and enums
// match the Go types.
func TestSchemaShape(t *testing.T) {
	envelope := []string{"cnf", "exp", "iat", "id", "iss", "nbf", "status", "sub", "vct", "vct#integrity"}
	strs := func(v any) []string {
		var out []string
		for _, x := range v.([]any) {
			out = append(out, x.(string))
		}
		sort.Strings(out)
		return out
	}
	keys := func(v any) []string {
		var out []string
		for k := range v.(map[string]any) {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	tags := func(t reflect.Type) []string {
		var out []string
		for k := range jsonFields(t) {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	codes := func(l any) []string {
		var out []string
		v := reflect.ValueOf(l)
		for i := 0; i < v.Len(); i++ {
			out = append(out, v.Index(i).String())
		}
		sort.Strings(out)
		return out
	}
	for _, typ := range Types() {
		t.Run(typ.Name, func(t *testing.T) {
			var s map[string]any
			if err := json.Unmarshal(Schema(typ.Name), &s); err != nil {
				t.Fatal(err)
			}
			if s["$id"] != typ.SchemaPath() || s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
				t.Errorf("$id %v $schema %v", s["$id"], s["$schema"])
			}
			props := s["properties"].(map[string]any)
			var own []string
			for _, k := range keys(props) {
				if !slices.Contains(envelope, k) {
					own = append(own, k)
				}
			}
			gt := goType(t, typ.Name)
			if want := tags(gt); !slices.Equal(own, want) {
				t.Errorf("schema properties %q, struct claims %q", own, want)
			}
			defs := s["$defs"].(map[string]any)
			obj := func(v any) map[string]any { return v.(map[string]any) }
			if id, ok := defs["identifier"]; ok {
				if got, want := keys(obj(id)["properties"]), tags(reflect.TypeFor[Identifier]()); !slices.Equal(got, want) {
					t.Errorf("identifier properties %q, want %q", got, want)
				}
				allowed := patientIdentifierTypes
				if typ.Name != TypePatientIdentity {
					allowed = providerIdentifierTypes
				}
				if got := strs(obj(obj(obj(id)["properties"])["type"])["enum"]); !slices.Equal(got, codes(allowed)) {
					t.Errorf("identifier types %q, want %q", got, codes(allowed))
				}
			}
			if a, ok := defs["address"]; ok {
				if got, want := keys(obj(a)["properties"]), tags(reflect.TypeFor[Address]()); !slices.Equal(got, want) {
					t.Errorf("address properties %q, want %q", got, want)
				}
			}
			enum := func(name string) []string { return strs(obj(props[name])["enum"]) }
			switch typ.Name {
			case TypePatientIdentity:
				if got := enum("gender"); !slices.Equal(got, codes(genders)) {
					t.Errorf("gender enum %q", got)
				}
				if got := enum("assurance_level"); !slices.Equal(got, codes(assuranceLevels)) {
					t.Errorf("assurance_level enum %q", got)
				}
			case TypeHealthConsent:
				g := obj(props["grantee"])
				if got := keys(g["properties"]); !slices.Equal(got, tags(reflect.TypeFor[Grantee]())) {
					t.Errorf("grantee properties %q", got)
				}
				if got := strs(obj(obj(g["properties"])["kind"])["enum"]); !slices.Equal(got, codes(granteeKinds)) {
					t.Errorf("grantee kinds %q", got)
				}
				if got := strs(obj(obj(props["purposes"])["items"])["enum"]); !slices.Equal(got, codes(PurposeOfUseCodes())) {
					t.Errorf("purposes enum %q", got)
				}
				if got := strs(obj(obj(props["excluded_labels"])["items"])["enum"]); !slices.Equal(got, codes(SensitivityLabels())) {
					t.Errorf("excluded_labels enum %q", got)
				}
			case TypePractitioner:
				if got := keys(obj(props["licence"])["properties"]); !slices.Equal(got, tags(reflect.TypeFor[Licence]())) {
					t.Errorf("licence properties %q", got)
				}
				if got := keys(obj(props["role"])["properties"]); !slices.Equal(got, tags(reflect.TypeFor[Coding]())) {
					t.Errorf("role properties %q", got)
				}
			case TypeOrganization:
				if got := enum("role"); !slices.Equal(got, codes(organizationRoles)) {
					t.Errorf("role enum %q", got)
				}
			}
		})
	}
}

// vcV2Protected are the top-level protected terms of the W3C VC Data Model
// 2.0 context (https://www.w3.org/ns/credentials/v2) that a claim name of
// ours could collide with. A context used after it may define them only
// identically.
var vcV2Protected = map[string]string{
	"id":          "@id",
	"type":        "@type",
	"name":        "https://schema.org/name",
	"description": "https://schema.org/description",
}

func TestJSONLDContext(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(JSONLDContext(), &doc); err != nil {
		t.Fatalf("context is not JSON: %v", err)
	}
	if len(doc) != 1 {
		t.Fatalf("context document has members %v besides @context", doc)
	}
	top, ok := doc["@context"].(map[string]any)
	if !ok {
		t.Fatal("@context is not an object")
	}
	if top["@version"] != 1.1 || top["@protected"] != true {
		t.Fatalf("@version %v @protected %v", top["@version"], top["@protected"])
	}
	prefix := top["medid"]
	if prefix != Vocabulary {
		t.Fatalf("medid prefix = %v", prefix)
	}
	// iri expands a term definition to its IRI or keyword.
	iri := func(def any) string {
		var id string
		switch d := def.(type) {
		case string:
			id = d
		case map[string]any:
			id, _ = d["@id"].(string)
		}
		if rest, ok := strings.CutPrefix(id, "medid:"); ok {
			return Vocabulary + rest
		}
		return id
	}
	for term, v := range vcV2Protected {
		if def, ok := top[term]; ok && iri(def) != v {
			t.Errorf("%s redefines the VC 2.0 protected term as %v", term, def)
		}
	}
	for _, typ := range Types() {
		if got := iri(top[typ.Name]); got != Vocabulary+typ.Name {
			t.Errorf("type term %s = %q", typ.Name, got)
		}
	}
	seen := map[string]string{} // IRI -> term path, to catch two terms sharing an IRI
	var check func(ctxPath string, scoped map[string]any, st reflect.Type)
	check = func(ctxPath string, scoped map[string]any, st reflect.Type) {
		for name, i := range jsonFields(st) {
			def, ok := scoped[name]
			if !ok {
				def, ok = top[name]
			}
			if !ok {
				t.Errorf("claim %s is not a term of the context", join(ctxPath, name))
				continue
			}
			id := iri(def)
			switch {
			case name == "id" && id == "@id", name == "name" && id == vcV2Protected["name"]:
			case !strings.HasPrefix(id, Vocabulary) || id == Vocabulary:
				t.Errorf("term %s maps to %q, not an IRI of the medid vocabulary", join(ctxPath, name), id)
			case seen[id] != "" && seen[id] != join(ctxPath, name):
				// The same claim in several types (identifiers, role) is
				// one term; different claims may not share an IRI.
				t.Errorf("terms %s and %s share the IRI %s", seen[id], join(ctxPath, name), id)
			default:
				seen[id] = join(ctxPath, name)
			}
			ft := st.Field(i).Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if isLeaf(ft) {
				continue
			}
			d, _ := def.(map[string]any)
			inner, _ := d["@context"].(map[string]any)
			if inner == nil {
				t.Errorf("term %s has object members but no scoped context", join(ctxPath, name))
				continue
			}
			if inner["@protected"] != true {
				t.Errorf("scoped context of %s is not @protected", join(ctxPath, name))
			}
			check(join(ctxPath, name), inner, ft)
		}
	}
	for _, typ := range Types() {
		check("", nil, goType(t, typ.Name))
	}
	// Dates are typed.
	for _, term := range []string{"birthdate", "valid_from", "valid_until"} {
		if d, _ := top[term].(map[string]any); d["@type"] == nil {
			t.Errorf("%s has no @type", term)
		}
	}
	if d, _ := top["patient"].(map[string]any); d["@type"] != "@id" {
		t.Error("patient is not an @id-typed term")
	}
}

func TestDecodeErrors(t *testing.T) {
	_, err := Decode("Nope", map[string]any{})
	if !errors.Is(err, ErrUnknownType) {
		t.Fatalf("unknown type: %v", err)
	}
	_, err = DecodeAt(TypeOrganization, nil, testNow)
	if got := fieldsOf(t, err); !slices.Equal(got, []string{"identifiers", "name", "role"}) {
		t.Fatalf("nil claims: %q", got)
	}
	_, err = DecodeAt(TypeOrganization, map[string]any{"": 1.0, "a.b": 1.0, "name": "X", "role": "clinic",
		"identifiers": []any{map[string]any{"system": "urn:oid:1.2", "value": "1", "type": "NPI"}}}, testNow)
	if got := fieldsOf(t, err); !slices.Equal(got, []string{"[\"\"]", "[\"a.b\"]", "identifiers[0].system", "identifiers[0].value"}) {
		t.Fatalf("odd keys: %q", got)
	}
	cred, err := Decode(TypeHealthConsent, claimsOf(t, TypeHealthConsent))
	if err != nil {
		t.Fatal(err)
	}
	c := cred.(*HealthConsentCredential)
	if c.Patient.String() != "did:example:patient123" || c.Scopes[1].Query().Get("category") != "problem-list-item" ||
		!c.ValidUntil.Equal(time.Date(2026, 6, 30, 22, 0, 0, 0, time.UTC)) || c.Grantee.Kind != GranteeClinic {
		t.Fatalf("decoded %+v", c)
	}
}
