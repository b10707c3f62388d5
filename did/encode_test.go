package did

import (
	"encoding/json"
	"testing"
	"time"
)

// The reference encoding: reflection over tagged structs, as encoding/json
// would write the types if they had no MarshalJSON methods.

type refVM struct {
	ID                 string          `json:"id"`
	Type               string          `json:"type"`
	Controller         string          `json:"controller"`
	PublicKeyJwk       json.RawMessage `json:"publicKeyJwk,omitempty"`
	PublicKeyMultibase string          `json:"publicKeyMultibase,omitempty"`
}

type refService struct {
	ID              string          `json:"id"`
	Type            any             `json:"type"`
	ServiceEndpoint json.RawMessage `json:"serviceEndpoint"`
}

type refDoc struct {
	Context              json.RawMessage `json:"@context"`
	ID                   string          `json:"id"`
	Controller           any             `json:"controller,omitempty"`
	AlsoKnownAs          []string        `json:"alsoKnownAs,omitempty"`
	VerificationMethod   []refVM         `json:"verificationMethod,omitempty"`
	Authentication       []any           `json:"authentication,omitempty"`
	AssertionMethod      []any           `json:"assertionMethod,omitempty"`
	KeyAgreement         []any           `json:"keyAgreement,omitempty"`
	CapabilityInvocation []any           `json:"capabilityInvocation,omitempty"`
	CapabilityDelegation []any           `json:"capabilityDelegation,omitempty"`
	Service              []refService    `json:"service,omitempty"`
}

type refResult struct {
	Context            string               `json:"@context"`
	Document           *refDoc              `json:"didDocument"`
	DocumentMetadata   documentMetadataJSON `json:"didDocumentMetadata"`
	ResolutionMetadata ResolutionMetadata   `json:"didResolutionMetadata"`
}

func refOfVM(vm VerificationMethod) refVM { return refVM(vm) }

func refOfRels(rels []Relationship) []any {
	if rels == nil {
		return nil
	}
	out := make([]any, len(rels))
	for i, r := range rels {
		if r.Embedded != nil {
			out[i] = refOfVM(*r.Embedded)
		} else {
			out[i] = r.Reference
		}
	}
	return out
}

func refOfDoc(d *Document) *refDoc {
	if d == nil {
		return nil
	}
	r := &refDoc{
		Context:              d.Context,
		ID:                   d.ID,
		AlsoKnownAs:          d.AlsoKnownAs,
		Authentication:       refOfRels(d.Authentication),
		AssertionMethod:      refOfRels(d.AssertionMethod),
		KeyAgreement:         refOfRels(d.KeyAgreement),
		CapabilityInvocation: refOfRels(d.CapabilityInvocation),
		CapabilityDelegation: refOfRels(d.CapabilityDelegation),
	}
	if len(r.Context) == 0 {
		r.Context = json.RawMessage(defaultContext)
	}
	switch len(d.Controller) {
	case 0:
	case 1:
		r.Controller = d.Controller[0]
	default:
		r.Controller = d.Controller
	}
	for _, vm := range d.VerificationMethod {
		r.VerificationMethod = append(r.VerificationMethod, refOfVM(vm))
	}
	for _, s := range d.Service {
		rs := refService{ID: s.ID, ServiceEndpoint: s.ServiceEndpoint}
		if len(s.Type) == 1 {
			rs.Type = s.Type[0]
		} else {
			rs.Type = s.Type
		}
		if len(rs.ServiceEndpoint) == 0 {
			rs.ServiceEndpoint = json.RawMessage("null")
		}
		r.Service = append(r.Service, rs)
	}
	return r
}

func refTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func refOfResult(r *Result) refResult {
	m := r.DocumentMetadata
	return refResult{
		Context:  ResolutionContext,
		Document: refOfDoc(r.Document),
		DocumentMetadata: documentMetadataJSON{
			Created: refTime(m.Created), Updated: refTime(m.Updated), Deactivated: m.Deactivated,
			VersionID: m.VersionID, NextUpdate: refTime(m.NextUpdate), NextVersionID: m.NextVersionID,
			EquivalentID: m.EquivalentID, CanonicalID: m.CanonicalID, LedgerProof: m.LedgerProof,
		},
		ResolutionMetadata: r.ResolutionMetadata,
	}
}

// checkEncoding compares the hand-written encoding of r (and its document)
// with the reference.
func checkEncoding(t *testing.T, r *Result) {
	t.Helper()
	got, err := r.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	want, err := json.Marshal(refOfResult(r))
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	if string(got) != string(want) {
		t.Fatalf("encoding differs from encoding/json\ngot:  %s\nwant: %s", got, want)
	}
	if !json.Valid(got) {
		t.Fatalf("invalid JSON: %s", got)
	}
	if r.Document != nil {
		got, err := r.Document.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(refOfDoc(r.Document))
		if string(got) != string(want) {
			t.Fatalf("document encoding differs\ngot:  %s\nwant: %s", got, want)
		}
		for _, vm := range r.Document.VerificationMethod {
			got, _ := vm.MarshalJSON()
			want, _ := json.Marshal(refOfVM(vm))
			if string(got) != string(want) {
				t.Fatalf("verification method encoding differs\ngot:  %s\nwant: %s", got, want)
			}
		}
	}
}

func TestEncodingMatchesReference(t *testing.T) {
	nasty := "a\"b\\c<d>e&f\u2028g\u2029h\x00\x01\x1f\b\f\n\r\t\x7f\xff\xc3(é☃𝄞"
	created := time.Date(2024, 2, 29, 23, 59, 59, 999, time.FixedZone("", -7*3600))
	d := unmarshalDoc(t, sampleDoc)
	d.ID = nasty
	d.Controller = []string{nasty, "x"}
	d.AlsoKnownAs = []string{nasty}
	d.VerificationMethod[0].Type = nasty
	d.VerificationMethod[1].PublicKeyJwk = json.RawMessage(" {\"a\" : \"<&>\u2028\" ,\n \"b\":[1, 2.5e3, true, null]}\t")
	d.Service[0].Type = nil
	d.Service[1].Type = []string{}
	d.Service[2].ServiceEndpoint = nil
	d.AssertionMethod[0].Reference = nasty
	results := []*Result{
		{},
		{Document: &Document{}},
		{Document: d},
		{
			Document: unmarshalDoc(t, sampleDoc),
			DocumentMetadata: DocumentMetadata{
				Created: &created, Updated: &created, NextUpdate: &created, Deactivated: true,
				VersionID: nasty, NextVersionID: "2", EquivalentID: []string{nasty}, CanonicalID: nasty,
				LedgerProof: &LedgerProof{LogOrigin: nasty, LogIndex: 1<<64 - 1, Checkpoint: nasty},
			},
			ResolutionMetadata: ResolutionMetadata{ContentType: "application/did+ld+json", Error: nasty, ErrorMessage: nasty},
		},
		{DocumentMetadata: DocumentMetadata{EquivalentID: []string{}, LedgerProof: &LedgerProof{InclusionProof: []string{}}}},
	}
	for _, r := range results {
		checkEncoding(t, r)
	}

	// Invalid raw values are refused rather than written.
	bad := &Document{ID: "did:example:1", Context: json.RawMessage(`[`)}
	if _, err := bad.MarshalJSON(); err == nil {
		t.Fatal("invalid @context was encoded")
	}
	bad = &Document{VerificationMethod: []VerificationMethod{{PublicKeyJwk: json.RawMessage(`{"a":}`)}}}
	if _, err := json.Marshal(bad); err == nil {
		t.Fatal("invalid publicKeyJwk was encoded")
	}
	bad = &Document{Service: []Service{{ServiceEndpoint: json.RawMessage(`"x" "y"`)}}}
	if _, err := json.Marshal(Result{Document: bad}); err == nil {
		t.Fatal("invalid serviceEndpoint was encoded")
	}
}
