// name: users-by-tag
// description: Customers to target by interest tag (written by `kg profile`: brand:<id>, category:<id>, material:<id>, price:<band>), strongest interest first, leaving out those who refused consent; no personal properties.
// param: tag STRING = price:mid -- tag id
// param: min_score DOUBLE = 0.0 -- weakest interest to list (0..1)
// param: k INT64 = 50 -- how many customers to list
// portable: true
MATCH (u:User)-[r:INTERESTED_IN]->(t:Tag {id: $tag})
WHERE r.score >= $min_score AND coalesce(u.consent, true) AND coalesce(u.marketing_consent, true)
RETURN u.id AS user, r.score AS score, r.source AS source, u.profile_segment AS segment, u.profile_price_band AS price_band
ORDER BY score DESC, user
LIMIT $k
