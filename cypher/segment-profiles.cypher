// name: segment-profiles
// description: Each customer segment with its size, purchases and spend per member, and the profile the segmentation wrote.
// portable: true
MATCH (s:Segment)<-[:IN_SEGMENT]-(u:User)
OPTIONAL MATCH (u)-[p:PURCHASED]->(:Item)
WITH s, count(DISTINCT u) AS members, count(p) AS purchases, sum(coalesce(p.amount, 0.0)) AS spend
RETURN s.id AS segment, s.name AS name, members, purchases, round(1.0 * purchases / members, 2) AS purchases_per_member, round(spend / members, 2) AS spend_per_member, s.`profile` AS `profile`
ORDER BY members DESC, segment
