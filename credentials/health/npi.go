package health

// ValidNPI reports whether s is a well-formed US National Provider
// Identifier: ten ASCII digits whose last is the Luhn check digit of the
// first nine prefixed with 80840 (the NPI's ISO 7812 issuer prefix), as
// CMS specifies. Adding that prefix is the same as adding 24 to the Luhn
// sum of the nine digits, which is what this does.
func ValidNPI(s string) bool {
	if len(s) != 10 {
		return false
	}
	for i := 0; i < 10; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	sum := 24
	// Double every second digit of the nine, starting from the rightmost.
	for i := 8; i >= 0; i-- {
		d := int(s[i] - '0')
		if (8-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	check := (10 - sum%10) % 10
	return int(s[9]-'0') == check
}
