import { Title } from '@mantine/core';

export default function ImagePage() {
  return <Title order={2}>Image</Title>;
}
