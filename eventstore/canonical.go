package eventstore

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Canonical returns JSON in the canonical form the hash chain is computed
// over, so that PostgreSQL's re-rendering of jsonb does not change hashes:
//   - no insignificant white space;
//   - object members sorted by key (bytewise on the decoded UTF-8 key),
//     duplicate keys refused;
//   - strings re-escaped minimally: only '"', '\\' and control characters
//     below U+0020 are escaped (as \" \\ and \u00XX), everything else is raw
//     UTF-8;
//   - numbers, true, false and null exactly as written.
//
// It is part of the persisted hash format: changing it breaks verification
// of every stored event.
func Canonical(raw []byte) ([]byte, error) {
	p := canonParser{in: raw}
	p.skipSpace()
	out, err := p.value(make([]byte, 0, len(raw)))
	if err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	p.skipSpace()
	if p.pos != len(p.in) {
		return nil, fmt.Errorf("canonical json: data after the value at byte %d", p.pos)
	}
	return out, nil
}

type canonParser struct {
	in  []byte
	pos int
}

var errCanonEOF = errors.New("unexpected end")

func (p *canonParser) skipSpace() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *canonParser) value(out []byte) ([]byte, error) {
	if p.pos >= len(p.in) {
		return nil, errCanonEOF
	}
	switch c := p.in[p.pos]; {
	case c == '{':
		return p.object(out)
	case c == '[':
		return p.array(out)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return appendCanonString(out, s), nil
	case c == 't':
		return p.literal(out, "true")
	case c == 'f':
		return p.literal(out, "false")
	case c == 'n':
		return p.literal(out, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(out)
	default:
		return nil, fmt.Errorf("unexpected %q at byte %d", c, p.pos)
	}
}

func (p *canonParser) literal(out []byte, lit string) ([]byte, error) {
	if len(p.in)-p.pos < len(lit) || string(p.in[p.pos:p.pos+len(lit)]) != lit {
		return nil, fmt.Errorf("bad literal at byte %d", p.pos)
	}
	p.pos += len(lit)
	return append(out, lit...), nil
}

func (p *canonParser) number(out []byte) ([]byte, error) {
	start := p.pos
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			p.pos++
			continue
		}
		break
	}
	lit := p.in[start:p.pos]
	if _, err := strconv.ParseFloat(string(lit), 64); err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, fmt.Errorf("bad number %q at byte %d", lit, start)
	}
	return append(out, lit...), nil
}

type canonMember struct {
	key string
	val []byte
}

func (p *canonParser) object(out []byte) ([]byte, error) {
	p.pos++ // {
	var members []canonMember
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == '}' {
		p.pos++
		return append(out, "{}"...), nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.in) || p.in[p.pos] != '"' {
			return nil, fmt.Errorf("object key expected at byte %d", p.pos)
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.in) || p.in[p.pos] != ':' {
			return nil, fmt.Errorf("':' expected at byte %d", p.pos)
		}
		p.pos++
		p.skipSpace()
		val, err := p.value(nil)
		if err != nil {
			return nil, err
		}
		members = append(members, canonMember{key, val})
		done, err := p.separator('}')
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
	}
	slices.SortFunc(members, func(a, b canonMember) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	out = append(out, '{')
	for i, m := range members {
		if i > 0 {
			if m.key == members[i-1].key {
				return nil, fmt.Errorf("duplicate key %q", m.key)
			}
			out = append(out, ',')
		}
		out = appendCanonString(out, m.key)
		out = append(out, ':')
		out = append(out, m.val...)
	}
	return append(out, '}'), nil
}

func (p *canonParser) array(out []byte) ([]byte, error) {
	p.pos++ // [
	out = append(out, '[')
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == ']' {
		p.pos++
		return append(out, ']'), nil
	}
	for i := 0; ; i++ {
		if i > 0 {
			out = append(out, ',')
		}
		p.skipSpace()
		var err error
		if out, err = p.value(out); err != nil {
			return nil, err
		}
		done, err := p.separator(']')
		if err != nil {
			return nil, err
		}
		if done {
			return append(out, ']'), nil
		}
	}
}

// separator consumes the ',' between members or the closing bracket, and
// reports whether it was the closing one.
func (p *canonParser) separator(closing byte) (bool, error) {
	p.skipSpace()
	if p.pos >= len(p.in) {
		return false, errCanonEOF
	}
	switch p.in[p.pos] {
	case ',':
		p.pos++
		return false, nil
	case closing:
		p.pos++
		return true, nil
	}
	return false, fmt.Errorf("',' or '%c' expected at byte %d", closing, p.pos)
}

// str decodes a JSON string at p.pos.
func (p *canonParser) str() (string, error) {
	start := p.pos + 1
	i := start
	for i < len(p.in) {
		c := p.in[i]
		if c == '"' {
			p.pos = i + 1
			return validUTF8(p.in[start:i]), nil // no escapes: the raw bytes are the string
		}
		if c == '\\' || c < 0x20 {
			break
		}
		i++
	}
	// Slow path: escapes.
	var b []byte
	b = append(b, p.in[start:i]...)
	for i < len(p.in) {
		c := p.in[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return validUTF8(b), nil
		case c < 0x20:
			return "", fmt.Errorf("control character in string at byte %d", i)
		case c != '\\':
			b = append(b, c)
			i++
			continue
		}
		if i+1 >= len(p.in) {
			return "", errCanonEOF
		}
		switch e := p.in[i+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, n, err := decodeU(p.in[i:])
			if err != nil {
				return "", err
			}
			b = utf8.AppendRune(b, r)
			i += n
			continue
		default:
			return "", fmt.Errorf("bad escape at byte %d", i)
		}
		i += 2
	}
	return "", errCanonEOF
}

// decodeU decodes \uXXXX (and a following low surrogate) at the start of in.
func decodeU(in []byte) (rune, int, error) {
	hex4 := func(b []byte) (rune, bool) {
		if len(b) < 4 {
			return 0, false
		}
		v, err := strconv.ParseUint(string(b[:4]), 16, 32)
		return rune(v), err == nil
	}
	r, ok := hex4(in[2:])
	if !ok {
		return 0, 0, errors.New("bad \\u escape")
	}
	if r >= 0xD800 && r < 0xDC00 && len(in) >= 12 && in[6] == '\\' && in[7] == 'u' {
		if lo, ok := hex4(in[8:]); ok && lo >= 0xDC00 && lo < 0xE000 {
			return (r-0xD800)<<10 + (lo - 0xDC00) + 0x10000, 12, nil
		}
	}
	if r >= 0xD800 && r < 0xE000 {
		return utf8.RuneError, 6, nil // a lone surrogate, as encoding/json decodes it
	}
	return r, 6, nil
}

// validUTF8 returns b as a string with each invalid byte replaced by U+FFFD,
// as encoding/json decodes it.
func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return string(out)
}

func appendCanonString(out []byte, s string) []byte {
	out = append(out, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			out = append(out, '\\', '"')
		case c == '\\':
			out = append(out, '\\', '\\')
		case c < 0x20:
			out = append(out, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			out = append(out, c)
		}
	}
	return append(out, '"')
}
