-- The audit head's MAC: a keyed BLAKE3 (key derived from the audit key, which the database does
-- not hold) over the head's seq and hash, moved with the head in each append. Without it anyone
-- who can write the database could delete the newest entries and move the head back to match.
-- NULL only for the empty log's head, which nobody has written yet.
ALTER TABLE audit_head ADD COLUMN mac TEXT;
