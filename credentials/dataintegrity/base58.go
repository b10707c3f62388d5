package dataintegrity

import "errors"

const b58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

var b58Index = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(b58Alphabet); i++ {
		t[b58Alphabet[i]] = int8(i)
	}
	return t
}()

// base58Encode is Bitcoin base58 (base58btc).
func base58Encode(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	// log(256)/log(58) < 1.38
	out := make([]byte, (len(b)-zeros)*138/100+1)
	high := len(out) - 1
	for _, c := range b[zeros:] {
		carry := int(c)
		j := len(out) - 1
		for ; j > high || carry != 0; j-- {
			carry += 256 * int(out[j])
			out[j] = byte(carry % 58)
			carry /= 58
		}
		high = j
	}
	i := 0
	for i < len(out) && out[i] == 0 {
		i++
	}
	s := make([]byte, zeros+len(out)-i)
	for k := 0; k < zeros; k++ {
		s[k] = '1'
	}
	for k, d := range out[i:] {
		s[zeros+k] = b58Alphabet[d]
	}
	return string(s)
}

var errBase58 = errors.New("not base58btc")

// base58Decode decodes base58btc. It refuses long input before doing
// quadratic work on it.
func base58Decode(s string, maxLen int) ([]byte, error) {
	if len(s) > maxLen*138/100+2 {
		return nil, errBase58
	}
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	out := make([]byte, len(s)*733/1000+1) // log(58)/log(256) < 0.733
	for i := zeros; i < len(s); i++ {
		v := b58Index[s[i]]
		if v < 0 {
			return nil, errBase58
		}
		carry := int(v)
		for j := len(out) - 1; j >= 0; j-- {
			carry += 58 * int(out[j])
			out[j] = byte(carry)
			carry >>= 8
		}
		if carry != 0 {
			return nil, errBase58
		}
	}
	i := 0
	for i < len(out) && out[i] == 0 {
		i++
	}
	res := make([]byte, zeros+len(out)-i)
	copy(res[zeros:], out[i:])
	return res, nil
}
