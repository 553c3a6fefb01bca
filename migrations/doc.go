// Package migrations embeds the numbered, forward-only SQL migrations and runs
// them with goose. Constructors elsewhere never run DDL.
package migrations
