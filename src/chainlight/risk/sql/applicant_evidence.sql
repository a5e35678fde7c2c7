-- Per applicant firm, the chain evidence a batch decision shows (the online service assembles the same from
-- memory, evidence.py): the walk towards an anchor ({{ walk }}: start, n, node; n = 0 is the firm itself), the
-- three largest customers ({{ rows }}: evidence.sql's rows) and the first $max_flags claims of each verdict a
-- decision lists (by claim id). Names come from the registry ('' when a firm is not in it).
WITH path AS (
    SELECT w.start AS uscc,
           list({'uscc': w.node, 'name': coalesce(e.name, ''), 'anchor': CASE WHEN g.is_anchor THEN 'yes' ELSE 'no' END}
                ORDER BY w.n) AS path
    FROM {{ walk }} w LEFT JOIN enterprises e ON e.uscc = w.node LEFT JOIN {{ graph }} g ON g.uscc = w.node
    WHERE w.n > 0 GROUP BY w.start
), customers AS (
    SELECT r.uscc,
           list({'uscc': r.other, 'name': coalesce(e.name, ''), 'amount': r.amount, 'months_active': r.months_active}
                ORDER BY r.k) AS customers
    FROM {{ rows }} r JOIN {{ applicants }} a ON a.uscc = r.uscc LEFT JOIN enterprises e ON e.uscc = r.other
    WHERE r.kind = 'customer' GROUP BY r.uscc
), claims AS (
    SELECT v.uscc, v.verdict, v.claim_id, v.kind, v.object, v.source, v.source_id, v.span_text, v.evidence_ids,
           row_number() OVER (PARTITION BY v.uscc, v.verdict ORDER BY v.claim_id) AS k
    FROM {{ verdicts }} v JOIN {{ applicants }} a ON a.uscc = v.uscc
    WHERE v.verdict = 'contradicted' OR (v.verdict = 'supported' AND v.kind <> 'makes')
), listed AS (
    SELECT uscc, verdict,
           list({'claim_id': claim_id, 'kind': kind, 'object': object, 'source': source, 'source_id': source_id,
                 'span_text': span_text, 'evidence_ids': evidence_ids} ORDER BY claim_id) AS claims
    FROM claims WHERE k <= $max_flags GROUP BY uscc, verdict
)
SELECT a.uscc, p.path, c.customers, s.claims AS supported, x.claims AS contradicted
FROM {{ applicants }} a LEFT JOIN path p ON p.uscc = a.uscc LEFT JOIN customers c ON c.uscc = a.uscc
LEFT JOIN listed s ON s.uscc = a.uscc AND s.verdict = 'supported'
LEFT JOIN listed x ON x.uscc = a.uscc AND x.verdict = 'contradicted'
