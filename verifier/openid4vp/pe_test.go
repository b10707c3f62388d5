package openid4vp_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/credentials/presexch"
	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/verifier/openid4vp"
)

// patientVCT is the vct of the fixture's credential.
func patientVCT(t testing.TB) string {
	typ, ok := health.LookupType(health.TypePatientIdentity)
	if !ok {
		t.Fatal("no PatientIdentityCredential type")
	}
	return typ.VCT("https://issuer.example")
}

// patientDefinition asks for a PatientIdentityCredential as an SD-JWT VC
// (under the draft name vc+sd-jwt) with given_name and birthdate, plus
// extra fields.
func patientDefinition(t testing.TB, descriptorID string, extra ...map[string]any) map[string]any {
	fields := []any{
		map[string]any{"path": []any{"$.vct"}, "filter": map[string]any{"type": "string", "const": patientVCT(t)}},
		map[string]any{"path": []any{"$.given_name"}},
		map[string]any{"path": []any{"$.birthdate"}},
	}
	for _, e := range extra {
		fields = append(fields, e)
	}
	return map[string]any{
		"id": "patient-check-in",
		"input_descriptors": []any{map[string]any{
			"id": descriptorID, "format": map[string]any{"vc+sd-jwt": map[string]any{"sd-jwt_alg_values": []any{"ES256"}}},
			"constraints": map[string]any{"limit_disclosure": "required", "fields": fields},
		}},
	}
}

// peAnswer is what the test wallet sends for a Presentation Exchange
// request: the presentations and the submission.
type peAnswer struct {
	presentations []string
	submission    map[string]any
}

// pePresent answers a request carrying a presentation_definition as the
// pre-1.0 OpenID4VP drafts and PE 2.0 say: one SD-JWT VC per input
// descriptor, disclosing the claims the descriptor's fields point to
// (except those in withhold), with a Key Binding JWT for the nonce and
// client_id. With array the vp_token is an array and the paths $[n];
// otherwise it is the one presentation and the path $.
func (w *wallet) pePresent(r *authzRequest, cred string, array bool, withhold ...string) *peAnswer {
	w.f.t.Helper()
	pd, ok := r.Params["presentation_definition"].(map[string]any)
	if !ok {
		w.f.t.Fatalf("no presentation_definition in the request: %v", r.Params)
	}
	a := &peAnswer{submission: map[string]any{"id": "submission-1", "definition_id": pd["id"]}}
	var dm []any
	for i, d := range pd["input_descriptors"].([]any) {
		desc := d.(map[string]any)
		var paths [][]any
		for _, f := range desc["constraints"].(map[string]any)["fields"].([]any) {
			p := f.(map[string]any)["path"].([]any)[0].(string)
			name := strings.TrimPrefix(p, "$.")
			if name == "vct" || containsString(withhold, name) {
				continue
			}
			paths = append(paths, []any{name})
		}
		vp, err := sdjwt.Present(cred, sdjwt.DisclosePaths(paths...), &sdjwt.KeyBindingOptions{
			Key: w.f.holder, Nonce: r.str("nonce"), Audience: r.ClientID, IssuedAt: w.f.clock.Now()})
		if err != nil {
			w.f.t.Fatal(err)
		}
		a.presentations = append(a.presentations, vp)
		path := "$"
		if array {
			path = "$[" + string(rune('0'+i)) + "]"
		}
		dm = append(dm, map[string]any{"id": desc["id"], "format": "vc+sd-jwt", "path": path})
	}
	a.submission["descriptor_map"] = dm
	if !array && len(a.presentations) != 1 {
		w.f.t.Fatal("a single-presentation vp_token answers one descriptor")
	}
	return a
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// vpToken is the answer's vp_token as a JSON value.
func (a *peAnswer) vpToken(array bool) any {
	if array {
		return a.presentations
	}
	return a.presentations[0]
}

// form is the direct_post body: a single compact presentation goes as is,
// an array as JSON, the submission as JSON.
func (a *peAnswer) form(array bool, state string) url.Values {
	sub, _ := json.Marshal(a.submission)
	vp := a.presentations[0]
	if array {
		b, _ := json.Marshal(a.presentations)
		vp = string(b)
	}
	return url.Values{"vp_token": {vp}, "presentation_submission": {string(sub)}, "state": {state}}
}

// A Presentation Exchange session, end to end with direct_post: the
// request object carries the presentation_definition (and no dcql_query),
// the wallet answers with a compact SD-JWT VC and a submission, and the
// status holds the disclosed claims under the input descriptor's id. A
// replay is refused.
func TestPEDirectPostVerified(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	s := f.createSession(map[string]any{"presentation_definition": patientDefinition(t, "patient_identity"), "purpose": "Check in"})
	if len(s.PresentationDefinition) == 0 || !strings.Contains(string(s.DCQLQuery), `"vct_values":["`+patientVCT(t)+`"]`) {
		t.Fatalf("session %s / %s", s.PresentationDefinition, s.DCQLQuery)
	}
	w := &wallet{f: f}
	r, err := w.fetch(s.AuthorizationRequest)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Params["dcql_query"]; ok {
		t.Error("the request carries a dcql_query next to the presentation_definition")
	}
	meta := r.Params["client_metadata"].(map[string]any)
	if vf, _ := meta["vp_formats"].(map[string]any); vf["vc+sd-jwt"] == nil || vf["dc+sd-jwt"] == nil {
		t.Errorf("client_metadata.vp_formats %v", meta["vp_formats"])
	}
	a := w.pePresent(r, f.cred, false)
	form := a.form(false, r.str("state"))
	code, body := w.post(r, form)
	if code != 200 || len(body) != 0 {
		t.Fatalf("response_uri: %d %v", code, body)
	}
	st := f.status(s.ID)
	got := st.Credentials["patient_identity"]
	if st.Status != openid4vp.StatusVerified || len(st.Credentials) != 1 || len(got) != 1 {
		t.Fatalf("status %+v", st)
	}
	if got[0].Claims["given_name"] != "Ada" || got[0].Claims["birthdate"] != "1815-12-10" || !got[0].HolderBinding {
		t.Fatalf("claims %v", got[0].Claims)
	}
	if _, ok := got[0].Claims["gender"]; ok {
		t.Error("an undisclosed claim reached the status")
	}
	code, body = w.post(r, form)
	wantWalletError(t, code, body, 400, "invalid_request")
	if st := f.status(s.ID); st.Status != openid4vp.StatusVerified {
		t.Fatalf("status after replay %q", st.Status)
	}
}

// direct_post.jwt with the vp_token as an array and a descriptor id that
// is not a valid DCQL id (the translated query names it descriptor_0; the
// status uses the descriptor's own id).
func TestPEDirectPostJWTArray(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	s := f.createSession(map[string]any{"presentation_definition": patientDefinition(t, "patient identity"), "purpose": "Check in",
		"response_mode": "direct_post.jwt"})
	w := &wallet{f: f}
	r, err := w.fetch(s.AuthorizationRequest)
	if err != nil {
		t.Fatal(err)
	}
	a := w.pePresent(r, f.cred, true)
	payload := map[string]any{"vp_token": a.vpToken(true), "presentation_submission": a.submission, "state": r.str("state")}
	if code, body := w.post(r, w.encryptedForm(r, payload, nil, "")); code != 200 {
		t.Fatalf("response_uri: %d %v", code, body)
	}
	st := f.status(s.ID)
	if got := st.Credentials["patient identity"]; st.Status != openid4vp.StatusVerified || len(got) != 1 || got[0].Claims["given_name"] != "Ada" {
		t.Fatalf("status %+v", st)
	}
}

// Submissions that do not fit the definition or the vp_token are refused
// with invalid_request and say why, and leave the session pending: the
// genuine answer still succeeds afterwards.
func TestPEBadSubmissions(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	s := f.createSession(map[string]any{"presentation_definition": patientDefinition(t, "patient_identity"), "purpose": "Check in"})
	w := &wallet{f: f}
	r, err := w.fetch(s.AuthorizationRequest)
	if err != nil {
		t.Fatal(err)
	}
	a := w.pePresent(r, f.cred, false)
	state := r.str("state")
	entry := func(id, format, path string) map[string]any {
		return map[string]any{"id": id, "format": format, "path": path}
	}
	sub := func(defID string, entries ...any) string {
		b, _ := json.Marshal(map[string]any{"id": "s1", "definition_id": defID, "descriptor_map": entries})
		return string(b)
	}
	vp := a.presentations[0]
	arr, _ := json.Marshal(a.presentations)
	twice, _ := json.Marshal([]string{vp, vp})
	cases := []struct {
		name string
		form url.Values
		want string
	}{
		{"unknown descriptor", url.Values{"vp_token": {vp}, "state": {state},
			"presentation_submission": {sub("patient-check-in", entry("other_credential", "vc+sd-jwt", "$"))}},
			`"other_credential" names no input descriptor`},
		{"definition_id mismatch", url.Values{"vp_token": {vp}, "state": {state},
			"presentation_submission": {sub("another-definition", entry("patient_identity", "vc+sd-jwt", "$"))}},
			"definition_id does not match"},
		{"path out of range", url.Values{"vp_token": {string(arr)}, "state": {state},
			"presentation_submission": {sub("patient-check-in", entry("patient_identity", "vc+sd-jwt", "$[1]"))}},
			"index 1 is out of range"},
		{"array path into a single presentation", url.Values{"vp_token": {vp}, "state": {state},
			"presentation_submission": {sub("patient-check-in", entry("patient_identity", "vc+sd-jwt", "$[0]"))}},
			`must be "$"`},
		{"$ into an array", url.Values{"vp_token": {string(arr)}, "state": {state},
			"presentation_submission": {sub("patient-check-in", entry("patient_identity", "vc+sd-jwt", "$"))}},
			`must be "$[n]"`},
		{"JSONPath beyond $[n]", url.Values{"vp_token": {string(arr)}, "state": {state},
			"presentation_submission": {sub("patient-check-in", entry("patient_identity", "vc+sd-jwt", "$[0].vp"))}},
			`"$" or "$[n]"`},
		{"format of another kind", url.Values{"vp_token": {vp}, "state": {state},
			"presentation_submission": {sub("patient-check-in", entry("patient_identity", "jwt_vp_json", "$"))}},
			"does not fit input descriptor"},
		{"descriptor answered twice", url.Values{"vp_token": {string(twice)}, "state": {state},
			"presentation_submission": {sub("patient-check-in", entry("patient_identity", "vc+sd-jwt", "$[0]"), entry("patient_identity", "vc+sd-jwt", "$[1]"))}},
			"more entries than"},
		{"presentation named by no entry", url.Values{"vp_token": {string(twice)}, "state": {state},
			"presentation_submission": {sub("patient-check-in", entry("patient_identity", "vc+sd-jwt", "$[1]"))}},
			"presentation 0 is named by no descriptor_map entry"},
		{"path_nested on an SD-JWT VC", url.Values{"vp_token": {vp}, "state": {state},
			"presentation_submission": {sub("patient-check-in", map[string]any{"id": "patient_identity", "format": "vc+sd-jwt", "path": "$",
				"path_nested": entry("patient_identity", "vc+sd-jwt", "$")})}},
			"path_nested is not supported"},
		{"unknown member", url.Values{"vp_token": {vp}, "state": {state},
			"presentation_submission": {`{"id":"s1","definition_id":"patient-check-in","descriptor_map":[{"id":"patient_identity","format":"vc+sd-jwt","path":"$"}],"extra":1}`}},
			`member "extra" is not supported`},
		{"duplicate member", url.Values{"vp_token": {vp}, "state": {state},
			"presentation_submission": {`{"id":"s1","definition_id":"x","definition_id":"patient-check-in","descriptor_map":[{"id":"patient_identity","format":"vc+sd-jwt","path":"$"}]}`}},
			"not a JSON object"},
		{"empty descriptor_map", url.Values{"vp_token": {vp}, "state": {state}, "presentation_submission": {sub("patient-check-in")}},
			"descriptor_map must be a non-empty array"},
		{"no submission", url.Values{"vp_token": {vp}, "state": {state}}, "presentation_submission is required"},
		{"a DCQL vp_token", url.Values{"vp_token": {`{"patient_identity":["` + vp + `"]}`}, "state": {state},
			"presentation_submission": {sub("patient-check-in", entry("patient_identity", "vc+sd-jwt", "$"))}},
			"presentation must be a JSON string"},
		{"empty array", url.Values{"vp_token": {`[]`}, "state": {state},
			"presentation_submission": {sub("patient-check-in", entry("patient_identity", "vc+sd-jwt", "$[0]"))}},
			"non-empty array"},
		{"a number in the array", url.Values{"vp_token": {`[1]`}, "state": {state},
			"presentation_submission": {sub("patient-check-in", entry("patient_identity", "vc+sd-jwt", "$[0]"))}},
			"must be a presentation"},
	}
	for _, c := range cases {
		code, body := w.post(r, c.form)
		desc, _ := body["error_description"].(string)
		if code != 400 || body["error"] != "invalid_request" || !strings.Contains(desc, c.want) {
			t.Errorf("%s: %d %v (want %q)", c.name, code, body, c.want)
		}
	}
	if st := f.status(s.ID); st.Status != openid4vp.StatusPending {
		t.Fatalf("status after bad submissions %q", st.Status)
	}
	if code, body := w.post(r, a.form(false, state)); code != 200 {
		t.Fatalf("genuine response: %d %v", code, body)
	}
	if st := f.status(s.ID); st.Status != openid4vp.StatusVerified {
		t.Fatalf("status %q", st.Status)
	}

	// A DCQL session does not take a presentation_submission.
	d := f.createSession(map[string]any{"template": "patient-identity", "purpose": "Check in"})
	rd, err := w.fetch(d.AuthorizationRequest)
	if err != nil {
		t.Fatal(err)
	}
	form := directPostForm(w.present(rd, f.cred), rd.str("state"))
	form.Set("presentation_submission", sub("x", entry("patient_identity", "vc+sd-jwt", "$")))
	code, body := w.post(rd, form)
	wantWalletError(t, code, body, 400, "invalid_request")
}

// Well-formed answers whose presentations do not satisfy the descriptor's
// constraints fail the session with query_not_satisfied: a required field
// withheld, and a field whose value the filter does not allow.
func TestPEConstraintsNotSatisfied(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	w := &wallet{f: f}
	run := func(def map[string]any, withhold ...string) {
		t.Helper()
		s := f.createSession(map[string]any{"presentation_definition": def, "purpose": "Check in"})
		r, err := w.fetch(s.AuthorizationRequest)
		if err != nil {
			t.Fatal(err)
		}
		code, body := w.post(r, w.pePresent(r, f.cred, false, withhold...).form(false, r.str("state")))
		wantWalletError(t, code, body, 400, "invalid_request")
		st := f.status(s.ID)
		if st.Status != openid4vp.StatusFailed || st.Error == nil || st.Error.Code != openid4vp.StatusQueryNotSatisfied ||
			!strings.Contains(st.Error.Description, "input descriptor patient_identity") || len(st.Credentials) != 0 {
			t.Fatalf("status %+v %+v", st, st.Error)
		}
	}
	run(patientDefinition(t, "patient_identity"), "birthdate")
	run(patientDefinition(t, "patient_identity", map[string]any{"path": []any{"$.gender"}, "filter": map[string]any{"type": "string", "const": "male"}}))

	// An untrusted issuer fails verification instead.
	s := f.createSession(map[string]any{"presentation_definition": patientDefinition(t, "patient_identity"), "purpose": "Check in"})
	r, err := w.fetch(s.AuthorizationRequest)
	if err != nil {
		t.Fatal(err)
	}
	untrusted := f.issueCredential(mustKey(t, "ES256"))
	code, body := w.post(r, w.pePresent(r, untrusted, false).form(false, r.str("state")))
	wantWalletError(t, code, body, 400, "invalid_request")
	if st := f.status(s.ID); st.Status != openid4vp.StatusFailed || st.Error == nil || st.Error.Code != openid4vp.StatusVerificationFailed {
		t.Fatalf("status %+v", st)
	}
}

// Session creation refuses a malformed or unsupported presentation
// definition with a 400 naming presentation_definition and the member.
func TestPECreateSessionValidation(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	good, _ := json.Marshal(patientDefinition(t, "patient_identity"))
	cases := []struct{ body, detail string }{
		{`{"presentation_definition":{"input_descriptors":[]},"purpose":"x"}`, "id: required"},
		{`{"presentation_definition":[],"purpose":"x"}`, "not a JSON object"},
		{`{"presentation_definition":"pd","purpose":"x"}`, "not a JSON object"},
		{`{"presentation_definition":{"id":"d","input_descriptors":[]},"purpose":"x"}`, "input_descriptors: required"},
		{`{"presentation_definition":{"id":"d","submission_requirements":[],"input_descriptors":[{"id":"a"}]},"purpose":"x"}`, `"submission_requirements" is not supported`},
		{`{"presentation_definition":{"id":"d","input_descriptors":[{"id":"a","format":{"vc+sd-jwt":{}},"constraints":{"fields":[{"path":["$.vct"],"filter":{"type":"string","pattern":"^x"}}]}}]},"purpose":"x"}`,
			`input_descriptors[0].constraints.fields[0].filter: member "pattern" is not supported`},
		{`{"presentation_definition":{"id":"d","input_descriptors":[{"id":"a","format":{"vc+sd-jwt":{}},"constraints":{"fields":[{"path":["$..x"]}]}}]},"purpose":"x"}`,
			"input_descriptors[0].constraints.fields[0].path[0]"},
		{`{"presentation_definition":` + string(good) + `,"template":"consent","purpose":"x"}`, "exactly one of"},
		{`{"presentation_definition":` + string(good) + `,"dcql_query":{"credentials":[]},"purpose":"x"}`, "exactly one of"},
	}
	for _, c := range cases {
		code, out, _ := f.do("POST", "/verifier/sessions", "application/json", adminToken, []byte(c.body))
		var p struct{ Field, Detail string }
		_ = json.Unmarshal(out, &p)
		if code != 400 || p.Field != "presentation_definition" || !strings.Contains(p.Detail, c.detail) {
			t.Errorf("%s: %d %s (want detail %q)", c.body, code, out, c.detail)
		}
	}
	// Without any of the three, the error names them all.
	code, out, _ := f.do("POST", "/verifier/sessions", "application/json", adminToken, []byte(`{"purpose":"x"}`))
	if code != 400 || !strings.Contains(string(out), "presentation_definition") {
		t.Errorf("no query: %d %s", code, out)
	}
}

// ParsePEResponse on submissions for path_nested VPs, which the HTTP tests
// (SD-JWT VCs only) do not reach.
func TestParsePEResponseNested(t *testing.T) {
	def, err := presexch.Parse([]byte(`{"id":"d","input_descriptors":[{"id":"id_credential","format":{"jwt_vc_json":{}},
	  "constraints":{"fields":[{"path":["$.vc.type"],"filter":{"type":"array","contains":{"const":"IDCredential"}}}]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	sub := func(nested string) []byte {
		return []byte(`{"id":"s","definition_id":"d","descriptor_map":[{"id":"id_credential","format":"jwt_vp_json","path":"$"` + nested + `}]}`)
	}
	vp := []byte(`"eyJhbGciOiJFUzI1NiJ9.e30.c2ln"`)
	for _, nested := range []string{"", `,"path_nested":{"id":"id_credential","format":"jwt_vc_json","path":"$.verifiableCredential[0]"}`,
		`,"path_nested":{"id":"id_credential","format":"jwt_vc","path":"$.vp.verifiableCredential[0]"}`} {
		got, err := openid4vp.ParsePEResponse(def, vp, sub(nested))
		if err != nil {
			t.Fatalf("%s: %v", nested, err)
		}
		p := got.Presentations[0]
		if p.DescriptorID != "id_credential" || p.Format != "jwt_vc_json" || p.SubmittedFormat != "jwt_vp_json" || string(p.Presentation) != string(vp) {
			t.Fatalf("%+v", p)
		}
	}
	for _, nested := range []string{
		`,"path_nested":{"id":"other","format":"jwt_vc_json","path":"$.verifiableCredential[0]"}`,
		`,"path_nested":{"id":"id_credential","format":"ldp_vc","path":"$.verifiableCredential[0]"}`,
		`,"path_nested":{"id":"id_credential","format":"jwt_vc_json","path":"$.verifiableCredential[1]"}`,
		`,"path_nested":{"id":"id_credential","format":"jwt_vc_json","path":"$.verifiableCredential[0]","path_nested":{}}`,
		`,"path_nested":"$"`,
	} {
		if _, err := openid4vp.ParsePEResponse(def, vp, sub(nested)); err == nil {
			t.Errorf("%s: accepted", nested)
		}
	}
}

var peFuzzDefinition = `{"id":"d","input_descriptors":[
  {"id":"pid","format":{"vc+sd-jwt":{}},"constraints":{"fields":[{"path":["$.vct"],"filter":{"type":"string","const":"v"}}]}},
  {"id":"vc 2","format":{"jwt_vc_json":{}},"constraints":{"fields":[{"path":["$.type"],"filter":{"type":"array","contains":{"const":"T"}}}]}}]}`

// FuzzParsePresentationSubmission: any vp_token and presentation_submission
// from a wallet never panics, errors are invalid_request, and what is
// accepted answers every input descriptor once with a distinct
// presentation of the vp_token.
func FuzzParsePresentationSubmission(f *testing.F) {
	def, err := presexch.Parse([]byte(peFuzzDefinition))
	if err != nil {
		f.Fatal(err)
	}
	good := `{"id":"s","definition_id":"d","descriptor_map":[{"id":"pid","format":"vc+sd-jwt","path":"$[0]"},` +
		`{"id":"vc 2","format":"jwt_vp_json","path":"$[1]","path_nested":{"id":"vc 2","format":"jwt_vc_json","path":"$.verifiableCredential[0]"}}]}`
	for _, s := range [][2]string{
		{`["a~b~","eyJ.e30.sig"]`, good},
		{`["a~b~",{"@context":[],"proof":{}}]`, good},
		{`["a~b~","eyJ.e30.sig"]`, strings.Replace(good, `"$[1]"`, `"$[2]"`, 1)},
		{`["a~b~","eyJ.e30.sig"]`, strings.Replace(good, `"$[1]"`, `"$[0]"`, 1)},
		{`["a~b~","eyJ.e30.sig"]`, strings.Replace(good, `"vc 2"`, `"pid"`, 1)},
		{`["a~b~","eyJ.e30.sig"]`, strings.Replace(good, `"definition_id":"d"`, `"definition_id":"e"`, 1)},
		{`["a~b~","eyJ.e30.sig"]`, strings.Replace(good, `"$[1]"`, `"$[01]"`, 1)},
		{`"a~b~"`, `{"id":"s","definition_id":"d","descriptor_map":[{"id":"pid","format":"dc+sd-jwt","path":"$"}]}`},
		{`["a~b~","eyJ.e30.sig"]`, `{"id":"s","id":"t","definition_id":"d","descriptor_map":[]}`},
		{`[]`, `{}`}, {`[1]`, `[]`}, {`""`, `null`}, {`{}`, `""`}, {``, ``}, {`["x"] tail`, good},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, vpToken, submission []byte) {
		got, err := openid4vp.ParsePEResponse(def, vpToken, submission)
		if err != nil {
			var e *openid4vp.Error
			if !errors.As(err, &e) || e.Code != openid4vp.CodeInvalidRequest || e.Status != 400 {
				t.Fatalf("error is not invalid_request: %v", err)
			}
			return
		}
		if len(got.Presentations) != len(def.Query.Credentials) {
			t.Fatalf("%d presentations for %d descriptors", len(got.Presentations), len(def.Query.Credentials))
		}
		seenDesc, seenPath := map[string]bool{}, map[string]bool{}
		for _, p := range got.Presentations {
			if def.DescriptorIDs[p.QueryID] != p.DescriptorID || seenDesc[p.DescriptorID] || seenPath[p.Path] {
				t.Fatalf("presentation %+v", p)
			}
			seenDesc[p.DescriptorID], seenPath[p.Path] = true, true
			if len(p.Presentation) == 0 || len(p.Presentation) > openid4vp.MaxPresentation || !json.Valid(p.Presentation) ||
				(p.Presentation[0] != '"' && p.Presentation[0] != '{') {
				t.Fatalf("accepted presentation %q", p.Presentation)
			}
		}
	})
}
