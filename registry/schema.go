package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// Function describes a registered function for listings such as
// GET /api/v1/functions.
type Function struct {
	// Name is the name the function was registered under.
	Name string `json:"name"`
	// Parameters describes the JSON object the function accepts.
	Parameters Schema `json:"parameters"`
	// Injects lists the Go types of the injected arguments in argument
	// order, such as "*bun.DB" or "*registry.Progress". The context.Context
	// every function may take is not listed.
	Injects []string `json:"injects"`
}

// Schema describes a JSON value in the subset of JSON Schema the registry
// produces. It marshals its keys in a fixed order and object properties in
// struct field order.
type Schema struct {
	// Type is "object", "array", "string", "integer", "number" or "boolean";
	// empty means any JSON value.
	Type string
	// Format refines Type: "date-time" for time.Time, "byte" for []byte
	// (base64).
	Format string
	// Properties are the members of an object built from a Go struct, in
	// field order.
	Properties []Property
	// Required lists the properties that must be present.
	Required []string
	// Closed means no properties beyond Properties are accepted
	// (additionalProperties: false). Objects built from Go structs are closed.
	Closed bool
	// Values describes the values of an object built from a Go map
	// (additionalProperties: {...}).
	Values *Schema
	// Items describes the elements of an array.
	Items *Schema
	// Default is the JSON value used when an optional property is absent.
	Default json.RawMessage
}

// Property is one named member of an object Schema.
type Property struct {
	// Name is the JSON name of the property.
	Name string
	// Schema describes its value.
	Schema Schema
}

// MarshalJSON writes the schema with keys in the order type, format,
// properties, required, additionalProperties, items, default. A closed
// object always has "properties" and "required", possibly empty.
func (s Schema) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	comma := false
	key := func(name string) {
		if comma {
			b.WriteByte(',')
		}
		comma = true
		b.WriteString(`"` + name + `":`)
	}
	write := func(v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		b.Write(data)
		return nil
	}
	if s.Type != "" {
		key("type")
		_ = write(s.Type)
	}
	if s.Format != "" {
		key("format")
		_ = write(s.Format)
	}
	if len(s.Properties) > 0 || s.Closed {
		key("properties")
		b.WriteByte('{')
		for i, p := range s.Properties {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := write(p.Name); err != nil {
				return nil, err
			}
			b.WriteByte(':')
			if err := write(p.Schema); err != nil {
				return nil, err
			}
		}
		b.WriteByte('}')
	}
	if len(s.Required) > 0 || s.Closed {
		key("required")
		if err := write(append([]string{}, s.Required...)); err != nil {
			return nil, err
		}
	}
	switch {
	case s.Closed:
		key("additionalProperties")
		b.WriteString("false")
	case s.Values != nil:
		key("additionalProperties")
		if err := write(s.Values); err != nil {
			return nil, err
		}
	}
	if s.Items != nil {
		key("items")
		if err := write(s.Items); err != nil {
			return nil, err
		}
	}
	if len(s.Default) > 0 {
		key("default")
		if !json.Valid(s.Default) {
			return nil, fmt.Errorf("schema default is not valid JSON: %s", s.Default)
		}
		b.Write(s.Default)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON writes, keeping the order of
// properties.
func (s *Schema) UnmarshalJSON(data []byte) error {
	var raw struct {
		Type                 string          `json:"type"`
		Format               string          `json:"format"`
		Properties           json.RawMessage `json:"properties"`
		Required             []string        `json:"required"`
		AdditionalProperties json.RawMessage `json:"additionalProperties"`
		Items                *Schema         `json:"items"`
		Default              json.RawMessage `json:"default"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*s = Schema{Type: raw.Type, Format: raw.Format, Required: raw.Required, Items: raw.Items, Default: raw.Default}
	if len(raw.Properties) > 0 && string(raw.Properties) != "null" {
		props, err := decodeProperties(raw.Properties)
		if err != nil {
			return err
		}
		s.Properties = props
	}
	switch ap := bytes.TrimSpace(raw.AdditionalProperties); {
	case string(ap) == "false":
		s.Closed = true
	case len(ap) > 0 && ap[0] == '{':
		s.Values = new(Schema)
		if err := json.Unmarshal(ap, s.Values); err != nil {
			return err
		}
	}
	return nil
}

// decodeProperties reads a JSON object of schemas in document order.
func decodeProperties(data []byte) ([]Property, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("schema properties: want an object")
	}
	props := []Property{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("schema properties: %w", err)
		}
		name, _ := tok.(string)
		var p Property
		p.Name = name
		if err := dec.Decode(&p.Schema); err != nil {
			return nil, fmt.Errorf("schema property %q: %w", name, err)
		}
		props = append(props, p)
	}
	return props, nil
}

// clone returns a deep copy, so listings cannot alter the registry's copy.
func (s Schema) clone() Schema {
	c := s
	c.Required = slices.Clone(s.Required)
	c.Default = slices.Clone(s.Default)
	if s.Properties != nil {
		c.Properties = make([]Property, len(s.Properties))
		for i, p := range s.Properties {
			c.Properties[i] = Property{Name: p.Name, Schema: p.Schema.clone()}
		}
	}
	if s.Values != nil {
		v := s.Values.clone()
		c.Values = &v
	}
	if s.Items != nil {
		v := s.Items.clone()
		c.Items = &v
	}
	return c
}

func (f Function) clone() Function {
	return Function{Name: f.Name, Parameters: f.Parameters.clone(), Injects: slices.Clone(f.Injects)}
}
