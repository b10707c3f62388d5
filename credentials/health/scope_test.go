package health

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestParseScopeValid(t *testing.T) {
	for _, tc := range []struct {
		in    string
		ctx   ScopeContext
		rtype string
		perms string
		query url.Values
	}{
		{"patient/Observation.rs", PatientContext, "Observation", "rs", nil},
		{"patient/*.r", PatientContext, "*", "r", nil},
		{"user/Condition.cruds", UserContext, "Condition", "cruds", nil},
		{"system/Patient.s", SystemContext, "Patient", "s", nil},
		{"patient/MedicationRequest.cud", PatientContext, "MedicationRequest", "cud", nil},
		{"patient/Condition.rs?category=problem-list-item", PatientContext, "Condition", "rs",
			url.Values{"category": {"problem-list-item"}}},
		{"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory", PatientContext, "Observation", "rs",
			url.Values{"category": {"http://terminology.hl7.org/CodeSystem/observation-category|laboratory"}}},
		{"patient/Observation.rs?category=vital-signs,laboratory&status=final", PatientContext, "Observation", "rs",
			url.Values{"category": {"vital-signs,laboratory"}, "status": {"final"}}},
		{"patient/Observation.s?code%3Ain=http%3A%2F%2Fx.example%2Fvs", PatientContext, "Observation", "s", nil}, // an encoded name is not a name
		{"patient/Observation.s?code:in=http%3A%2F%2Fx.example%2Fvs", PatientContext, "Observation", "s",
			url.Values{"code:in": {"http://x.example/vs"}}},
	} {
		s, err := ParseScope(tc.in)
		if tc.in == "patient/Observation.s?code%3Ain=http%3A%2F%2Fx.example%2Fvs" {
			if err == nil {
				t.Errorf("ParseScope(%q) accepted a percent-encoded parameter name", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseScope(%q): %v", tc.in, err)
			continue
		}
		if s.String() != tc.in || s.Context() != tc.ctx || s.ResourceType() != tc.rtype || s.Permissions().String() != tc.perms {
			t.Errorf("ParseScope(%q) = %q %q %q %q", tc.in, s, s.Context(), s.ResourceType(), s.Permissions())
		}
		if q := s.Query(); q.Encode() != tc.query.Encode() {
			t.Errorf("ParseScope(%q).Query() = %v, want %v", tc.in, q, tc.query)
		}
		if s.IsZero() {
			t.Errorf("ParseScope(%q).IsZero()", tc.in)
		}
	}
}

func TestParseScopeInvalid(t *testing.T) {
	for _, tc := range []struct{ in, reason string }{
		{"", "empty"},
		{"patient/Observation.sr", "out of order"},
		{"patient/Observation.rr", "repeated"},
		{"patient/Observation.rsc", "out of order"},
		{"patient/Observation.x", "unknown permission"},
		{"patient/Observation.R", "unknown permission"},
		{"practitioner/Observation.rs", "unknown context"},
		{"Patient/Observation.rs", "unknown context"},
		{"patient/Observation.", "empty permissions"},
		{"patient/Observation.read", `use "rs"`},
		{"patient/Observation.write", `use "cud"`},
		{"patient/*.*", `use "cruds"`},
		{"patient/Observation", `missing "."`},
		{"patientObservation.rs", `missing "/"`},
		{"patient/observation.rs", "unknown FHIR resource type"},
		{"patient/Observaton.rs", "unknown FHIR resource type"},
		{"patient/.rs", "unknown FHIR resource type"},
		{"patient/Observation/x.rs", "unknown FHIR resource type"},
		{"patient/Observation.rs?", "empty query"},
		{"patient/Observation.rs?category", "without a name or a value"},
		{"patient/Observation.rs?=x", "without a name or a value"},
		{"patient/Observation.rs?category=", "empty query value"},
		{"patient/Observation.rs?category=a&category=b", "repeated"},
		{"patient/Observation.rs?category=a,,b", "empty alternative"},
		{"patient/Observation.rs?category=%zz", "URL-encoded"},
		{"patient/Observation.rs?category=%0a", "control character"},
		{"patient/Observation.rs?cate gory=a", "white space"},
		{"patient/Observation.rs?ca$t=a", "not a FHIR search parameter name"},
		{"patient/Observation.rs ", "white space"},
		{"openid", `missing "/"`},
		{"launch/patient", "unknown context"},
		{"patient/Observation.rs?x=" + strings.Repeat("a", MaxScopeLength), "longer than"},
		{"patient/Observation.rs?x=\xff", "UTF-8"},
	} {
		s, err := ParseScope(tc.in)
		if err == nil {
			t.Errorf("ParseScope(%q) = %q, want error", tc.in, s)
			continue
		}
		if !errors.Is(err, ErrInvalidScope) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("ParseScope(%q) error = %v, want %q", tc.in, err, tc.reason)
		}
		if !s.IsZero() {
			t.Errorf("ParseScope(%q) returned a scope with an error", tc.in)
		}
	}
}

func TestScopeAllows(t *testing.T) {
	q := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	for _, tc := range []struct {
		scope  string
		ia     rune
		rtype  string
		params url.Values
		want   bool
	}{
		{"patient/Observation.rs", 'r', "Observation", nil, true},
		{"patient/Observation.rs", 's', "Observation", q("code", "1234-5"), true},
		{"patient/Observation.rs", 'c', "Observation", nil, false},
		{"patient/Observation.rs", 'u', "Observation", nil, false},
		{"patient/Observation.rs", 'd', "Observation", nil, false},
		{"patient/Observation.rs", 'r', "Condition", nil, false},
		{"patient/Observation.rs", 'R', "Observation", nil, false},
		{"patient/Observation.rs", 'x', "Observation", nil, false},
		{"user/Condition.cruds", 'd', "Condition", nil, true},
		{"user/Condition.cruds", 'c', "Condition", nil, true},
		{"patient/*.r", 'r', "Observation", nil, true},
		{"patient/*.r", 'r', "MedicationRequest", nil, true},
		{"patient/*.r", 'r', "*", nil, true},
		{"patient/*.r", 's', "Observation", nil, false},
		{"patient/*.r", 'r', "Bogus", nil, false},
		{"patient/*.r", 'r', "", nil, false},
		{"patient/Observation.r", 'r', "*", nil, false},
		{"patient/Condition.rs?category=problem-list-item", 's', "Condition", q("category", "problem-list-item"), true},
		{"patient/Condition.rs?category=problem-list-item", 's', "Condition", q("category", "problem-list-item", "clinical-status", "active"), true},
		{"patient/Condition.rs?category=problem-list-item", 'r', "Condition", q("category", "problem-list-item"), true},
		{"patient/Condition.rs?category=problem-list-item", 's', "Condition", q("category", "encounter-diagnosis"), false},
		{"patient/Condition.rs?category=problem-list-item", 's', "Condition", q("category", "problem-list-item,encounter-diagnosis"), false},
		{"patient/Condition.rs?category=problem-list-item", 's', "Condition", q("category", "problem-list-item", "category", "encounter-diagnosis"), false},
		{"patient/Condition.rs?category=problem-list-item", 's', "Condition", nil, false},
		{"patient/Condition.rs?category=problem-list-item", 's', "Condition", q("clinical-status", "active"), false},
		{"patient/Condition.rs?category=problem-list-item", 's', "Condition", q("category", ""), false},
		{"patient/Condition.rs?category=problem-list-item", 's', "Condition", q("category", "http://terminology.hl7.org/CodeSystem/condition-category|problem-list-item"), false},
		{"patient/Observation.rs?category=vital-signs,laboratory", 's', "Observation", q("category", "laboratory"), true},
		{"patient/Observation.rs?category=vital-signs,laboratory", 's', "Observation", q("category", "vital-signs,laboratory"), true},
		{"patient/Observation.rs?category=vital-signs,laboratory", 's', "Observation", q("category", "social-history"), false},
		{"patient/*.rs?_security=N", 's', "Observation", q("_security", "N"), true},
		{"patient/*.rs?_security=N", 's', "Observation", q("_security", "R"), false},
	} {
		s, err := ParseScope(tc.scope)
		if err != nil {
			t.Fatalf("ParseScope(%q): %v", tc.scope, err)
		}
		if got := s.Allows(tc.ia, tc.rtype, tc.params); got != tc.want {
			t.Errorf("%q.Allows(%q, %q, %v) = %v, want %v", tc.scope, tc.ia, tc.rtype, tc.params, got, tc.want)
		}
	}
	var zero Scope
	if zero.Allows('r', "Observation", nil) {
		t.Error("the zero Scope allows a read")
	}
}

func TestScopeQueryIsACopy(t *testing.T) {
	s, _ := ParseScope("patient/Condition.rs?category=problem-list-item")
	s.Query()["category"][0] = "encounter-diagnosis"
	s.Query().Set("x", "y")
	if got := s.Query().Encode(); got != "category=problem-list-item" {
		t.Fatalf("Query changed through a copy: %s", got)
	}
}

func TestPermissions(t *testing.T) {
	all := PermCreate | PermRead | PermUpdate | PermDelete | PermSearch
	if all.String() != "cruds" || (PermRead|PermSearch).String() != "rs" || Permissions(0).String() != "" {
		t.Error("Permissions.String")
	}
	for _, r := range "cruds" {
		if !all.Has(r) {
			t.Errorf("cruds lacks %q", r)
		}
	}
	if all.Has('x') || all.Has('C') || all.Has(0) || PermRead.Has('s') {
		t.Error("Permissions.Has")
	}
}

func TestScopeText(t *testing.T) {
	var s Scope
	if err := s.UnmarshalText([]byte("patient/Observation.rs")); err != nil || s.String() != "patient/Observation.rs" {
		t.Fatalf("UnmarshalText: %v %q", err, s)
	}
	b, _ := s.MarshalText()
	if string(b) != "patient/Observation.rs" {
		t.Fatalf("MarshalText = %q", b)
	}
	if err := s.UnmarshalText(nil); err != nil || !s.IsZero() {
		t.Fatalf("UnmarshalText(empty): %v %q", err, s)
	}
	if err := s.UnmarshalText([]byte("patient/Observation.sr")); err == nil {
		t.Fatal("UnmarshalText accepted a bad scope")
	}
}

func TestIsResourceType(t *testing.T) {
	for _, n := range []string{"Observation", "Patient", "MedicationRequest", "DeviceUseStatement", "DeviceUsage", "SubscriptionTopic", "Media"} {
		if !IsResourceType(n) {
			t.Errorf("IsResourceType(%q) = false", n)
		}
	}
	for _, n := range []string{"", "*", "observation", "Resource", "DomainResource", "Observations"} {
		if IsResourceType(n) {
			t.Errorf("IsResourceType(%q) = true", n)
		}
	}
}
