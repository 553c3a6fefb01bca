package eventstore

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestCanonical(t *testing.T) {
	cases := map[string]string{
		`{"b": 1, "a": [true, null, "x"], "c": {"z": 1.50, "y": -2e3}}`: `{"a":[true,null,"x"],"b":1,"c":{"y":-2e3,"z":1.50}}`,
		`"a\u00e4\n\"\\\/<>&\ud83d\ude00"`:                              `"aä\u000a\"\\/<>&😀"`,
		` [ ] `:                                                         `[]`,
		`{}`:                                                            `{}`,
	}
	for in, want := range cases {
		got, err := Canonical([]byte(in))
		if err != nil || string(got) != want {
			t.Fatalf("Canonical(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{`{"a":1,"a":2}`, `{"a":}`, `[1,]`, `"abc`, `tru`, `{} x`, "\"a\x01\"", `{"a" 1}`, `01x`} {
		if _, err := Canonical([]byte(bad)); err == nil {
			t.Fatalf("Canonical accepted %q", bad)
		}
	}
}

// Canonical keeps the meaning of any JSON encoding/json accepts, and is the
// same for any two renderings of one value (PostgreSQL's jsonb text, Go's).
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,"x",{"k":[null,true]}]`, `"\u00e4"`, `{"name":"Tenant <&> é","n":12345678901234567890}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if dec.Decode(&v) != nil || dec.More() {
			return
		}
		if _, err := dec.Token(); err != io.EOF {
			return // trailing data
		}
		c, err := Canonical(raw)
		if err != nil {
			if !strings.Contains(err.Error(), "duplicate key") { // refused on purpose
				t.Fatalf("Canonical(%q): %v", raw, err)
			}
			return
		}
		var back any
		d2 := json.NewDecoder(bytes.NewReader(c))
		d2.UseNumber()
		if err := d2.Decode(&back); err != nil || !reflect.DeepEqual(back, v) {
			t.Fatalf("Canonical(%q) = %q changes the value", raw, c)
		}
		again, _ := json.Marshal(v)
		c2, err := Canonical(again)
		if err != nil || !bytes.Equal(c, c2) {
			t.Fatalf("two renderings differ: %q vs %q", c, c2)
		}
	})
}
