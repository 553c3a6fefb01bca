package handlers

import (
	"encoding/json"
	"reflect"
	"strings"
)

// unknownField returns the dotted path of the first JSON object member that
// the target type has no field for ("" when there is none), so that a 400 can
// name a nested field such as "settings.speed". encoding/json's own error
// names only the member.
func unknownField(raw []byte, t reflect.Type) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return walkUnknown(v, t, "")
}

func walkUnknown(v any, t reflect.Type, prefix string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	obj, ok := v.(map[string]any)
	if !ok || t.Kind() != reflect.Struct {
		return ""
	}
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[strings.ToLower(name)] = f.Type
	}
	for k, child := range obj {
		ft, ok := fields[strings.ToLower(k)] // encoding/json matches names case-insensitively
		if !ok {
			return prefix + k
		}
		if ft == reflect.TypeOf(json.RawMessage(nil)) {
			continue
		}
		if p := walkUnknown(child, ft, prefix+k+"."); p != "" {
			return p
		}
	}
	return ""
}
