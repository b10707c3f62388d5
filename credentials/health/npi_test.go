package health

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestValidNPI(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"1234567893", true}, // the CMS example
		{"1245319599", true},
		{"1234567890", false},
		{"1234567894", false},
		{"2234567893", false},
		{"123456789", false},
		{"12345678931", false},
		{"123456789a", false},
		{"12345 7893", false},
		{"１234567893", false},
		{"", false},
	} {
		if got := ValidNPI(tc.in); got != tc.want {
			t.Errorf("ValidNPI(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// luhn is the textbook Luhn check over a whole digit string, used to check
// ValidNPI's shortcut (24 instead of the prefix 80840).
func luhn(s string) bool {
	sum := 0
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if (len(s)-1-i)%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func TestValidNPIMatchesPrefixedLuhn(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	valid := 0
	for i := 0; i < 20000; i++ {
		s := fmt.Sprintf("%010d", r.Uint64N(1e10))
		want := luhn("80840" + s)
		if got := ValidNPI(s); got != want {
			t.Fatalf("ValidNPI(%q) = %v, prefixed Luhn says %v", s, got, want)
		}
		if want {
			valid++
		}
	}
	if valid < 1500 || valid > 2500 {
		t.Fatalf("%d of 20000 random numbers valid; want about a tenth", valid)
	}
}
