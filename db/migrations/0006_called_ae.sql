-- 0006_called_ae: the called AE title each instance was sent to, beside the calling one. A
-- node may answer to several titles ([node] extra_ae_titles), and a modality picks a
-- workflow by the title it sends to; series and study rules read it back from here
-- (CalledAE matches when any instance's value does). '' for instances that did not come
-- over DIMSE (SRs we made, STOW-RS) and for those indexed before this migration.
ALTER TABLE instance ADD COLUMN called_ae_title text COLLATE "C" NOT NULL DEFAULT '';
