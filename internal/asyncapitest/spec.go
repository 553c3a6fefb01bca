package asyncapitest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ValidateSpec validates the document against the JSON schema of the
// AsyncAPI specification in schemaFile (the @asyncapi/specs package's
// schemas/3.0.0-without-$id.json), then checks what that schema cannot:
// every local $ref resolves, and every operation sends messages of its own
// channel.
func ValidateSpec(doc []byte, schemaFile string) error {
	spec, err := os.ReadFile(schemaFile)
	if err != nil {
		return fmt.Errorf("read the AsyncAPI schema: %w", err)
	}
	specDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(spec))
	if err != nil {
		return fmt.Errorf("parse the AsyncAPI schema %s: %w", schemaFile, err)
	}
	c := jsonschema.NewCompiler()
	const specURL = "mem:///asyncapi-3.0.0.json"
	if err := c.AddResource(specURL, specDoc); err != nil {
		return err
	}
	schema, err := c.Compile(specURL)
	if err != nil {
		return fmt.Errorf("compile the AsyncAPI schema %s: %w", schemaFile, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("parse the document: %w", err)
	}
	var errs []error
	if err := schema.Validate(v); err != nil {
		errs = append(errs, describe("the document", "AsyncAPI 3.0 has no such field (extensions start with x-)", err)...)
	}
	errs = append(errs, checkRefs(v, v, "")...)
	for id, op := range object(object(v)["operations"]) {
		channel := str(object(object(op)["channel"])["$ref"]) + "/messages/"
		for _, ref := range list(object(op)["messages"]) {
			if r := str(object(ref)["$ref"]); !strings.HasPrefix(r, channel) {
				errs = append(errs, fmt.Errorf("operation %s sends %s, which is not a message of its channel %s", id, r, strings.TrimSuffix(channel, "/messages/")))
			}
		}
	}
	return errors.Join(errs...)
}

// checkRefs reports every "$ref" under v that does not resolve in doc.
func checkRefs(doc, v any, at string) []error {
	var errs []error
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok {
			if _, ok := resolve(doc, ref); !ok {
				errs = append(errs, fmt.Errorf("the document at %s: $ref %q resolves to nothing", at, ref))
			}
		}
		for k, child := range v {
			errs = append(errs, checkRefs(doc, child, at+"/"+k)...)
		}
	case []any:
		for i, child := range v {
			errs = append(errs, checkRefs(doc, child, at+"/"+strconv.Itoa(i))...)
		}
	}
	return errs
}

func resolve(doc any, ref string) (any, bool) {
	ptr, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, false // only local references are used
	}
	if ptr == "" {
		return doc, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch d := doc.(type) {
		case map[string]any:
			if doc, ok = d[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(d) {
				return nil, false
			}
			doc = d[i]
		default:
			return nil, false
		}
	}
	return doc, true
}
