// name: segment-category-affinity
// description: Categories each segment over-buys: the category's share of the segment's purchases divided by its share of all purchases (lift).
// param: min_purchases INT64 = 5 -- ignore segment/category pairs with fewer purchases
// param: k INT64 = 30 -- how many pairs to list
// portable: true
MATCH (:User)-[p:PURCHASED]->(:Item)
WITH count(p) AS total
MATCH (s:Segment)<-[:IN_SEGMENT]-(:User)-[p:PURCHASED]->(:Item)
WITH total, s, count(p) AS segment_total
MATCH (s)<-[:IN_SEGMENT]-(:User)-[:PURCHASED]->(:Item)-[:IN_CATEGORY]->(c:Category)
WITH total, s, segment_total, c, count(*) AS segment_category
WHERE segment_category >= $min_purchases
MATCH (:User)-[:PURCHASED]->(:Item)-[:IN_CATEGORY]->(c)
WITH total, s, segment_total, c, segment_category, count(*) AS category_total
RETURN s.id AS segment, c.name AS category, segment_category AS purchases, round(1.0 * segment_category / segment_total, 4) AS share, round((1.0 * segment_category / segment_total) / (1.0 * category_total / total), 3) AS lift
ORDER BY lift DESC, segment, category
LIMIT $k
