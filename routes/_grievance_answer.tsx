/**
 * The officers' answer to a grievance as its pages show it (the officer's page and the
 * complainant's tracking page): a section under `title` (an `h2`, or an `h3` under the page's
 * own), or nothing before there is an answer.
 */
export function GrievanceAnswer(props: { answer: string | null; title: string; level: 2 | 3 }) {
  if (!props.answer) return null;
  const Heading = props.level === 2 ? "h2" : "h3";
  return (
    <section>
      <Heading>{props.title}</Heading>
      <p class="answer">{props.answer}</p>
    </section>
  );
}
