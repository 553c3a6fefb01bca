-- +goose Up
-- Meta's account webhooks name the WABA, not a number: find its tenant fast.
CREATE INDEX phone_number_claims_waba ON phone_number_claims (waba_id);

-- +goose Down
DROP INDEX phone_number_claims_waba;
