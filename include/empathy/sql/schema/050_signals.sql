-- Behavioural evidence behind each user's state, one row per (user, as_of, signal, key); written by
-- empathy.signals (detect, store), read by empathy.state. Rows of an as_of are pruned once a newer state
-- exists (the history keeps the reasons).
CREATE TABLE IF NOT EXISTS user_evidence (
    user_id     VARCHAR NOT NULL,
    as_of       TIMESTAMPTZ NOT NULL,
    signal      VARCHAR NOT NULL,       -- a name from signal_catalog: rage_clicks, api_error_streak, customer_text, ...
    key         VARCHAR NOT NULL,       -- which instance: element @ path, streak start, ticket id, message id
    family      VARCHAR NOT NULL,       -- frustration, leaving, confusion, recovery, ... (signal_catalog)
    polarity    INTEGER NOT NULL,       -- -1 negative, 0 neutral (intent, text), +1 positive
    weight      DOUBLE NOT NULL,        -- strength in the sentiment trend
    first_at    TIMESTAMPTZ,
    last_at     TIMESTAMPTZ,
    count       BIGINT NOT NULL,
    detail      JSON NOT NULL,          -- what and where (customer-typed values: data, never instructions)
    PRIMARY KEY (user_id, as_of, signal, key)
);

-- Every signal Empathy knows and what it means (written from empathy.signals.catalog by migrate).
CREATE TABLE IF NOT EXISTS signal_catalog (
    signal        VARCHAR PRIMARY KEY,
    family        VARCHAR NOT NULL,
    polarity      INTEGER NOT NULL,
    weight        DOUBLE NOT NULL,
    friction_rank INTEGER,              -- order in which a negative signal is "the friction point"
    detector      VARCHAR,              -- signals/sql/<detector>.sql
    words         VARCHAR NOT NULL      -- how it reads (a template over detail's fields)
);

-- A customer text that asks for something ("where is...?", "can't find", "how do I", "not able to
-- download", "still no invoice") is a sign of looking, not of leaving, unless it also complains in so many
-- words (what it says, not how negative a scorer reads it: "I can't find the invoice" scores as negative as
-- an angry complaint does).
CREATE OR REPLACE MACRO asks_for_help(t) AS
    regexp_matches(lower(coalesce(t, '')),
        '\?|\b(where(''?s| (is|are|do|can|did|does|would|should|i|we))|how (do|can|to|does|should|would|i|we)|looking for|is there a way|what happened to|need help|help me (find|get|download|locate)'
        || '|(can''?t|cannot|can not|could ?n''?o?t|unable to|not able to|don''?t|do not|didn''?t|did not|never|not|still not) (i |we |you )?(find|found|locate|see|get|download|access|open|reach)'
        || '|(still )?(no|missing|waiting for|haven''?t (received|got|gotten)|never (received|got)) (the |my |our |a |an |any )?(invoices?|receipts?|pdfs?|statements?|bills?|billing history|credit notes?)'
        || '|(invoices?|receipts?|pdfs?|statements?) (is |are )?(missing|not (there|showing|visible|available|working))'
        || '|(i|we) (just |only )?need (the|my|our|a|an|to (find|get|download|see))|send (me|us) (the|my|our|a|an)|please (send|share|provide|forward))\b');

-- What a customer looks for, not what went wrong: documents and settings (invoices, receipts, billing
-- history, tax ids, payment method; security documents). A ticket about one of these that asks, or says it
-- cannot get it, is someone looking even when it is short with us ("broken", "!!"); only words of anger at
-- the company (complains_strongly) make it a complaint.
CREATE OR REPLACE MACRO looks_for_documents(t) AS
    regexp_matches(lower(coalesce(t, '')),
        '\b(invoices?|receipts?|pdfs?|billing (history|settings|page|address|details|portal)|statements?|credit notes?|vat|tax (id|number|invoice)|payment method|update (my |the )?card|soc ?(2|ii)|security (questionnaire|review|documents?|report)|dpa|pen ?test)\b');

-- Words of anger at the company or of wanting money back: a complaint, whatever else the text asks.
CREATE OR REPLACE MACRO complains_strongly(t) AS
    regexp_matches(lower(coalesce(t, '')),
        '\b(ridiculous|unacceptable|terrible|awful|worst|horrible|useless|furious|angry|disgusting|pathetic|scam|fraud|incompetent|(want|need|demand|requesting|request|give (me|us)|get) (a |my |our |the )?(full )?refund|refund (me|us|the difference|my|our)|where(''?s| is) (my|our) refund|money back|charged (me )?(again|twice|\d+ times)|double[- ]charged|overcharg\w*|never again|fed up|sick of|waste of|stupid|hate|infuriat\w*|outrage\w*|disappoint\w*|joke|nobody (answers|answered|replied|helps)|no one (answers|answered|replied|helps)|(is|are|was|were) (still )?(wrong|incorrect)|wrong (amount|charge|invoice|price)|billed (us |me )?(twice|for \d+)|fix (this|it)\b)\b');

-- A complaint in so many words: anger (above), or saying the product is broken, or "!!".
CREATE OR REPLACE MACRO complains(t) AS
    complains_strongly(t) OR regexp_matches(lower(coalesce(t, '')),
        '\b(broken|not working|does ?n.?t work|nothing works|keeps? (failing|crashing|breaking)|still (broken|failing|not working|down))\b|!!');
