package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// RegisterTypes changes how the connection sends query parameters; run it
// on every new connection (pgxpool.Config.AfterConnect).
//
// The service keeps its ids (tenants, events) as UUID strings. pgx sends a
// uuid parameter in binary, which it cannot do from a Go string: for every
// such parameter it built an error, then sent the value as text instead.
// On the write path that was a fifth of the CPU a group commit spends
// encoding, and it is serial. Strings in the canonical form are now sent in
// binary; any other string still goes as text, so PostgreSQL parses (or
// refuses) exactly what it did before.
func RegisterTypes(_ context.Context, conn *pgx.Conn) error {
	m := conn.TypeMap()
	uuid := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}}
	m.RegisterType(uuid)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: uuid}})
	return nil
}

// uuidCodec is pgx's uuid codec that also encodes canonical UUID strings
// in binary.
type uuidCodec struct{ pgtype.UUIDCodec }

func (c uuidCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(string); ok && format == pgtype.BinaryFormatCode {
		return uuidStringBinary{}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

type uuidStringBinary struct{}

// errNotCanonicalUUID makes pgx send the value as text instead.
var errNotCanonicalUUID = errors.New("not a canonical UUID string")

func (uuidStringBinary) Encode(value any, buf []byte) ([]byte, error) {
	b, ok := parseCanonicalUUID(value.(string))
	if !ok {
		return nil, errNotCanonicalUUID
	}
	return append(buf, b[:]...), nil
}

// parseCanonicalUUID parses xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (either case).
func parseCanonicalUUID(s string) (b [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return b, false
	}
	j := 0
	for i := 0; i < 36; i += 2 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return b, false
		}
		b[j] = hi<<4 | lo
		j++
	}
	return b, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
